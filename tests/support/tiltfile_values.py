"""Runs the Tiltfile without Tilt and prints what it would install, as JSON.

    python3 tiltfile_values.py <repo> [tilt args…]     e.g. --mode=Distributed --mtls

Tilt's built-ins are stand-ins that record their calls: `helm(...)` gives the chart, release,
namespace and `--set` list; `k8s_yaml(...)` the objects the Tiltfile applies beside the chart
(engines, Secrets). `local(...)` really runs (it makes the dev keys and certificates), in the
current directory, which the caller makes a scratch copy of what the Tiltfile reads. Starlark is
close enough to Python for this Tiltfile; its `load()` statement is a call here.
"""

import json
import subprocess
import sys

import yaml


def parse_args(argv):
    args = {}
    for arg in argv:
        key, _, value = arg.removeprefix("--").partition("=")
        args[key] = value if value else True
    return args


def main():
    repo, argv = sys.argv[1], sys.argv[2:]
    args = parse_args(argv)
    seen = {"helm": None, "objects": []}

    class Config:
        def define_string(self, name, usage=""):
            pass

        def define_bool(self, name, usage=""):
            pass

        def parse(self):
            return args

    def helm(chart, name, namespace, set):
        seen["helm"] = {"chart": chart, "name": name, "namespace": namespace, "set": set}
        return ""

    def k8s_yaml(text):
        seen["objects"].extend(doc for doc in yaml.safe_load_all(text) if doc)

    def local(cmd, quiet=False):
        subprocess.run(cmd, shell=True, check=True, capture_output=quiet)

    def fail(message):
        raise SystemExit("Tiltfile failed: " + message)

    def ignore(*args, **kwargs):
        return None

    def read_file(path):
        with open(path) as f:
            return f.read()

    builtins = {
        "config": Config(),
        "helm": helm,
        "k8s_yaml": k8s_yaml,
        "local": local,
        "fail": fail,
        "read_file": read_file,
        "blob": lambda text: text,
        "encode_yaml": lambda obj: yaml.safe_dump(obj),
        "load": ignore,
        "namespace_create": ignore,
        "allow_k8s_contexts": ignore,
        "docker_build": ignore,
        "k8s_resource": ignore,
        "local_resource": ignore,
        "port_forward": ignore,
        "TRIGGER_MODE_MANUAL": "manual",
    }
    with open(f"{repo}/Tiltfile") as f:
        source = f.read()
    exec(compile(source, "Tiltfile", "exec"), builtins)
    json.dump(seen, sys.stdout)


if __name__ == "__main__":
    main()
