"""Drives the gateway with the unchanged official OpenAI Python library.

Usage: openai_client.py BASE_URL API_KEY MODEL — prints one JSON line with what it saw.
"""
import json
import sys
import time

from openai import OpenAI

base_url, api_key, model = sys.argv[1], sys.argv[2], sys.argv[3]
client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)

listed = [m.id for m in client.models.list().data]
reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "面料库存还有多少?"}])

started = time.monotonic()
first_token_after = None
pieces = []
stream = client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": "stream please"}],
    stream=True,
    stream_options={"include_usage": True},
)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        if first_token_after is None:
            first_token_after = time.monotonic() - started
        pieces.append(chunk.choices[0].delta.content)

error = None
try:
    client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
except Exception as e:  # the library's NotFoundError, carrying the OpenAI error body
    error = {"class": type(e).__name__, "status": getattr(e, "status_code", None), "code": (getattr(e, "body", None) or {}).get("code")}

print(json.dumps({
    "models": listed,
    "content": reply.choices[0].message.content,
    "usage": reply.usage.total_tokens if reply.usage else None,
    "streamed": pieces,
    "first_token_after": first_token_after,
    "stream_seconds": time.monotonic() - started,
    "error": error,
}))
