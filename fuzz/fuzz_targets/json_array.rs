//! `application/json` bodies: `parse_json_array`, then `check_record` on every record.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let result = brain_ingestion::parse::parse_json_array(body, &brain_fuzz::LIMITS);
    brain_fuzz::check_body(body, result, false);
});
