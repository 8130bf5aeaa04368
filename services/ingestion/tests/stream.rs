#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! gRPC `IngestStream` against the real service: acknowledgements in order and only once
//! durable, whole-batch refusals as acknowledgements, stream-ending failures, flow control.

mod common;

use brain_proto::common::v1::DatasetRef;
use brain_proto::events::v1::{RecordIngested, RecordRejected};
use brain_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;
use brain_proto::ingestion::v1::{BatchAck, IngestBatch, InputRecord, RecordStatus};
use futures::StreamExt;
use prost::Message;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint};

const TENANT: &str = "91330100MA27XKQ717";

fn dataset(name: &str) -> Option<DatasetRef> {
    Some(DatasetRef { tenant_id: TENANT.into(), dataset: name.into() })
}

fn record(id: &str, payload: &str) -> InputRecord {
    InputRecord { id: id.into(), event_time: None, payload_json: payload.as_bytes().to_vec() }
}

fn batch(batch_id: &str, dataset_name: &str, records: Vec<InputRecord>) -> IngestBatch {
    IngestBatch { batch_id: batch_id.into(), dataset: dataset(dataset_name), source: None, records }
}

async fn client(brain: &common::Ingestion) -> IngestionServiceClient<Channel> {
    IngestionServiceClient::new(Endpoint::from_shared(format!("http://{}", brain.grpc)).unwrap().connect().await.unwrap())
}

/// Sends `batches` on one stream, closes the sending side, and collects every response.
async fn exchange(client: &mut IngestionServiceClient<Channel>, batches: Vec<IngestBatch>) -> Vec<Result<BatchAck, tonic::Status>> {
    let mut acks = client.ingest_stream(futures::stream::iter(batches)).await.unwrap().into_inner();
    let mut out = Vec::new();
    while let Some(ack) = tokio::time::timeout(Duration::from_secs(20), acks.next()).await.unwrap() {
        out.push(ack);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_acknowledged_in_order_once_durable() {
    let brain = common::start(|_| {}).await;
    let mut client = client(&brain).await;
    let batches = vec![
        batch("b-1", "production-output", vec![record("r-1", r#"{"line":"L1","output_m":1200}"#), record("", r#"{"line":"L2","output_m":980}"#)]),
        // Empty batch ids are allowed and echoed.
        batch("", "production-output", vec![record("r-3", r#"{"_event_time":"last tuesday","line":"L3"}"#), record("", "[1,2]")]),
        batch("b-3", "energy-use", vec![record("r-4", r#"{"meter":"M1","kwh":35.5}"#)]),
        // No records: acknowledged at once.
        batch("b-4", "energy-use", vec![]),
    ];
    let acks: Vec<BatchAck> = exchange(&mut client, batches).await.into_iter().map(Result::unwrap).collect();
    let ids: Vec<&str> = acks.iter().map(|a| a.batch_id.as_str()).collect();
    assert_eq!(ids, ["b-1", "", "b-3", "b-4"]);
    assert_eq!((acks[0].accepted, acks[0].rejected), (2, 0));
    assert_eq!(acks[0].results[0].record_id, "r-1");
    assert_eq!(acks[0].results[1].record_id.len(), 32, "a derived id: {:?}", acks[0].results[1]);
    assert_eq!((acks[1].accepted, acks[1].rejected), (0, 2));
    let v = acks[1].results[0].violation.as_ref().unwrap();
    assert_eq!((v.field.as_str(), v.rule.as_str(), v.record_index), ("_event_time", "event_time", 0));
    let v = acks[1].results[1].violation.as_ref().unwrap();
    assert_eq!((v.rule.as_str(), v.reason.as_str(), v.record_index), ("json_object", "expected a JSON object, got an array", 1));
    assert_eq!((acks[2].accepted, acks[2].rejected, acks[2].results.len()), (1, 0, 1));
    assert_eq!((acks[3].accepted, acks[3].rejected, acks[3].results.len()), (0, 0, 0));

    // Everything acknowledged is on the bus: accepted records, and dead letters with reasons.
    let accepted_ids: Vec<String> = acks[..3].iter().flat_map(|a| &a.results).filter(|r| r.status == RecordStatus::Accepted as i32).map(|r| r.record_id.clone()).collect();
    let (bus, _dir) = brain.stop_and_open_bus().await;
    let records: Vec<String> = common::read_topic(&bus, brain_bus::topics::INGEST_RECORDS)
        .await
        .iter()
        .map(|d| RecordIngested::decode(d.payload.as_slice()).unwrap().record.unwrap().id)
        .collect();
    assert_eq!(records, accepted_ids);
    let rejected = common::read_topic(&bus, brain_bus::topics::GOVERNANCE_REJECTED).await;
    assert_eq!(rejected.len(), 2);
    let dead = RecordRejected::decode(rejected[0].payload.as_slice()).unwrap();
    assert_eq!(dead.violations[0].field, "_event_time");
    assert_eq!(dead.record.unwrap().id, "r-3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_refused_as_a_whole_is_acknowledged_with_every_record_rejected() {
    let brain = common::start(|c| c.ingestion.max_batch_records = 3).await;
    let mut client = client(&brain).await;
    let four = (0..4).map(|i| record(&format!("r-{i}"), r#"{"a":1}"#)).collect();
    let batches = vec![
        batch("too-many", "orders", four),
        batch("bad-name", "../orders", vec![record("", r#"{"a":1}"#)]),
        // The stream carries on after refused batches.
        batch("fine", "orders", vec![record("", r#"{"a":2}"#)]),
    ];
    let acks: Vec<BatchAck> = exchange(&mut client, batches).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(acks.len(), 3);

    assert_eq!((acks[0].batch_id.as_str(), acks[0].accepted, acks[0].rejected), ("too-many", 0, 4));
    for (i, result) in acks[0].results.iter().enumerate() {
        assert_eq!(result.status, RecordStatus::Rejected as i32);
        assert_eq!(result.record_id, format!("r-{i}"));
        let v = result.violation.as_ref().unwrap();
        assert_eq!((v.rule.as_str(), v.record_index), ("max_batch_records", i as u32));
        assert_eq!(v.reason, "the batch was refused as a whole: batch has 4 records; the limit is 3");
    }

    assert_eq!((acks[1].accepted, acks[1].rejected), (0, 1));
    let v = acks[1].results[0].violation.as_ref().unwrap();
    assert_eq!((v.field.as_str(), v.rule.as_str()), ("dataset", "name"));
    assert!(v.reason.contains("invalid dataset `../orders`"), "{}", v.reason);

    assert_eq!((acks[2].batch_id.as_str(), acks[2].accepted), ("fine", 1));

    // Nothing of the refused batches went to the bus.
    let (bus, _dir) = brain.stop_and_open_bus().await;
    assert_eq!(common::read_topic(&bus, brain_bus::topics::INGEST_RECORDS).await.len(), 1);
    assert_eq!(common::read_topic(&bus, brain_bus::topics::GOVERNANCE_REJECTED).await.len(), 0);
}

/// Sends raw bytes as stream messages, to put malformed protobuf on the wire.
mod raw {
    use bytes::{Buf, BufMut};
    use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
    use tonic::Status;

    #[derive(Default)]
    pub struct RawCodec;

    pub struct RawEncoder;
    pub struct AckDecoder;

    impl Codec for RawCodec {
        type Encode = Vec<u8>;
        type Decode = super::BatchAck;
        type Encoder = RawEncoder;
        type Decoder = AckDecoder;
        fn encoder(&mut self) -> RawEncoder {
            RawEncoder
        }
        fn decoder(&mut self) -> AckDecoder {
            AckDecoder
        }
    }

    impl Encoder for RawEncoder {
        type Item = Vec<u8>;
        type Error = Status;
        fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
            dst.put_slice(&item);
            Ok(())
        }
    }

    impl Decoder for AckDecoder {
        type Item = super::BatchAck;
        type Error = Status;
        fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<super::BatchAck>, Status> {
            let ack = prost::Message::decode(src.copy_to_bytes(src.remaining())).map_err(|e| Status::internal(e.to_string()))?;
            Ok(Some(ack))
        }
    }
}

async fn raw_exchange(brain: &common::Ingestion, messages: Vec<Vec<u8>>) -> Vec<Result<BatchAck, tonic::Status>> {
    let channel = Endpoint::from_shared(format!("http://{}", brain.grpc)).unwrap().connect().await.unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/brain.ingestion.v1.IngestionService/IngestStream");
    let request = tonic::Request::new(futures::stream::iter(messages));
    let mut acks = grpc.streaming(request, path, raw::RawCodec).await.unwrap().into_inner();
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(20), acks.message()).await.unwrap() {
            Ok(Some(ack)) => out.push(Ok(ack)),
            Ok(None) => break,
            Err(status) => {
                out.push(Err(status));
                break;
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_or_oversized_messages_end_the_stream_with_a_status() {
    let brain = common::start(|c| c.ingestion.max_body_bytes = 4096).await;
    let good = batch("ok", "orders", vec![record("", r#"{"a":1}"#)]).encode_to_vec();

    // A truncated length-delimited field: not an IngestBatch.
    let replies = raw_exchange(&brain, vec![good.clone(), b"\x22\x7f\x1a\x05".to_vec(), good.clone()]).await;
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_eq!(replies[0].as_ref().unwrap().batch_id, "ok");
    let status = replies[1].as_ref().unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().starts_with("1 batches were acknowledged; the next could not be read as an IngestBatch"), "{status:?}");

    // A message above the limit (max_body_bytes) is refused before it is decoded.
    let big = batch("big", "orders", vec![record("", &format!(r#"{{"blob":"{}"}}"#, "x".repeat(5000)))]).encode_to_vec();
    let replies = raw_exchange(&brain, vec![big]).await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    let status = replies[0].as_ref().unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(status.message().starts_with("0 batches were acknowledged"), "{status:?}");
    assert!(status.message().contains("4096"), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_its_acks_is_slowed_down() {
    const BATCHES: usize = 200;
    let brain = common::start(|_| {}).await;
    // Small client windows so that unread acknowledgements fill them quickly.
    let channel = Endpoint::from_shared(format!("http://{}", brain.grpc))
        .unwrap()
        .initial_stream_window_size(Some(1024))
        .initial_connection_window_size(Some(1024))
        .connect()
        .await
        .unwrap();
    let mut client = IngestionServiceClient::new(channel);

    // 200 batches of one 32 KiB record (6.4 MiB in all); count how many gRPC pulled to send.
    let pulled = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<IngestBatch>(1);
    let counter = pulled.clone();
    let outgoing = futures::stream::unfold(rx, move |mut rx| {
        let counter = counter.clone();
        async move {
            let next = rx.recv().await?;
            counter.fetch_add(1, Ordering::SeqCst);
            Some((next, rx))
        }
    });
    let producer = tokio::spawn(async move {
        let blob = "x".repeat(32 * 1024);
        for i in 0..BATCHES {
            let payload = format!(r#"{{"seq":{i},"blob":"{blob}"}}"#);
            if tx.send(batch(&format!("b-{i}"), "telemetry", vec![record("", &payload)])).await.is_err() {
                return;
            }
        }
    });
    let mut acks = client.ingest_stream(outgoing).await.unwrap().into_inner();

    // Without reading acks, the server stops reading batches once its ack queue and the
    // windows are full: the number pulled settles well below the number offered.
    let mut last = usize::MAX;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = pulled.load(Ordering::SeqCst);
        if now == last || tokio::time::Instant::now() > deadline {
            break;
        }
        last = now;
    }
    let stalled_at = pulled.load(Ordering::SeqCst);
    eprintln!("sending stalled after {stalled_at} of {BATCHES} batches");
    assert!(stalled_at < BATCHES / 2, "the client sent {stalled_at} of {BATCHES} batches without reading an ack");

    // Reading the acks lets everything through, in order.
    for i in 0..BATCHES {
        let ack = tokio::time::timeout(Duration::from_secs(30), acks.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(ack.batch_id, format!("b-{i}"));
        assert_eq!(ack.accepted, 1);
    }
    producer.await.unwrap();
    assert_eq!(pulled.load(Ordering::SeqCst), BATCHES);
}
