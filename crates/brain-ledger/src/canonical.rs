//! Canonical JSON: the one text form of a JSON value that its hash is taken over.
//!
//! Object keys are sorted by their UTF-8 bytes (Unicode code point order), recursively; there is
//! no whitespace; strings and numbers are written as `serde_json` writes them. Keys are sorted
//! here rather than relying on `serde_json::Map` order, because a crate anywhere in the build
//! can switch on `preserve_order` and make the map keep insertion order.

use serde_json::Value;

/// The canonical text of `value`.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::String(s) => write_string(out, s),
        // Scalars: serde_json's own compact form (numbers keep their parsed representation).
        Value::Null | Value::Bool(_) | Value::Number(_) => out.push_str(&value.to_string()),
    }
}

fn write_string(out: &mut String, s: &str) {
    // `Display` of a JSON string value is its escaped JSON form.
    out.push_str(&Value::String(s.to_owned()).to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_matter() {
        let a: Value =
            serde_json::from_str(r#"{"b": 1, "a": 2, "c": {"z": 1, "y": [3, 2]}}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"c": {"y": [3, 2], "z": 1}, "a": 2, "b": 1}"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(canonical_json(&a), r#"{"a":2,"b":1,"c":{"y":[3,2],"z":1}}"#);
    }

    #[test]
    fn nested_objects_in_arrays_are_sorted() {
        let v = json!([{"b": {"d": null, "c": true}, "a": []}, 1.5, "x"]);
        assert_eq!(
            canonical_json(&v),
            r#"[{"a":[],"b":{"c":true,"d":null}},1.5,"x"]"#
        );
    }

    #[test]
    fn unicode_keys_sort_by_code_point_and_strings_are_escaped() {
        let v = json!({"é": 1, "z": 2, "A": 3, "日本": "值\n\"q\"", "\u{1F600}": 4});
        assert_eq!(
            canonical_json(&v),
            "{\"A\":3,\"z\":2,\"é\":1,\"日本\":\"值\\n\\\"q\\\"\",\"\u{1F600}\":4}"
        );
    }

    #[test]
    fn canonical_text_round_trips() {
        let v =
            json!({"n": -12, "f": 0.1, "big": 18446744073709551615u64, "s": "\u{0007}", "e": {}});
        let text = canonical_json(&v);
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(canonical_json(&back), text);
        assert!(!text.contains(' '));
    }

    #[test]
    fn scalars() {
        assert_eq!(canonical_json(&json!(null)), "null");
        assert_eq!(canonical_json(&json!(false)), "false");
        assert_eq!(canonical_json(&json!("")), "\"\"");
        assert_eq!(canonical_json(&json!(7)), "7");
    }
}
