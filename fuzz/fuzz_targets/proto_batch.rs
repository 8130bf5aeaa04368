//! gRPC `IngestBatch` messages: protobuf decoding (as tonic does), conversion of every record
//! into a `RecordInput` (payload JSON, id, event-time timestamp), then `check_record`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|message: &[u8]| {
    let Ok(batch) = brain_ingestion::parse::decode_batch(message) else { return };
    for (i, record) in batch.records.into_iter().enumerate() {
        let payload = record.payload_json.len();
        let input = brain_ingestion::parse::record_input(record);
        assert_eq!(input.size, payload);
        brain_fuzz::check(i, input);
    }
});
