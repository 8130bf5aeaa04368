#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! REST bodies against the real service: JSON, NDJSON and CSV with per-record results,
//! content types, and explicit limits.

mod common;

use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn post(url: &str, content_type: Option<&str>, body: impl Into<reqwest::Body>) -> (u16, String, Value) {
    let mut request = reqwest::Client::new().post(url).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.timeout(Duration::from_secs(20)).send().await.unwrap();
    let status = response.status().as_u16();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let text = response.text().await.unwrap();
    (status, kind, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_and_csv_bodies_get_per_record_results_with_lines() {
    let brain = common::start(|_| {}).await;
    let url = brain.records_url("91330100MA27XKQ717", "production-output");

    let ndjson = "{\"_id\":\"n-1\",\"line\":\"L1\",\"output_m\":1200}\r\n\r\n{\"line\":\"L2\",\r\n[1,2]\n{\"_id\":\"n-4\",\"_event_time\":\"2026-11-22T08:00:00+08:00\"}\n";
    let (status, _, ack) = post(&url, Some("application/x-ndjson"), ndjson).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!((ack["accepted"].as_u64(), ack["rejected"].as_u64()), (Some(2), Some(2)), "{ack}");
    let lines: Vec<u64> = ack["results"].as_array().unwrap().iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [1, 3, 4, 5]);
    assert_eq!(ack["results"][0]["record_id"], "n-1");
    assert!(ack["results"][1]["violation"]["reason"].as_str().unwrap().starts_with("line 3: invalid JSON"), "{ack}");
    assert_eq!(ack["results"][2]["violation"]["reason"], "line 4: expected a JSON object, got an array");
    assert_eq!(ack["results"][2]["violation"]["record_index"], 2);

    let csv = "\u{feff}_id,企业名称,产量（米）,备注\r\nc-1,\"绍兴某纺织有限公司, 柯桥\",1200,\"第一行\r\n第二行\"\r\nc-2,某印染厂,980.5,\r\nc-3,太短\r\n";
    let (status, _, ack) = post(&url, Some("text/csv; charset=utf-8"), csv).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!((ack["accepted"].as_u64(), ack["rejected"].as_u64()), (Some(2), Some(1)), "{ack}");
    assert_eq!(ack["results"][0], json!({"index": 0, "line": 2, "record_id": "c-1", "status": "accepted"}));
    assert_eq!(ack["results"][1]["line"], 4);
    assert_eq!(ack["results"][2]["line"], 5);
    assert_eq!(ack["results"][2]["violation"]["reason"], "line 5: the row has 2 fields; the header (line 1) has 4");

    // JSON arrays still work, with lines too; a request without a content type is JSON.
    let (status, _, ack) = post(&url, None, "[\n{\"a\":1},\n{\"a\":2}\n]").await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["results"][1]["line"], 3);

    // The OpenAPI document lists the three body types.
    let openapi: Value = reqwest::get(format!("http://{}/openapi.json", brain.http)).await.unwrap().json().await.unwrap();
    let content = &openapi["paths"]["/api/v1/tenants/{tenant}/datasets/{dataset}/records"]["post"]["requestBody"]["content"];
    for media in ["application/json", "application/x-ndjson", "text/csv"] {
        assert!(content.get(media).is_some(), "{media} missing: {content}");
    }

    // The records are on the bus with their source.
    let (bus, _dir) = brain.stop_and_open_bus().await;
    let records = common::read_topic(&bus, brain_bus::topics::INGEST_RECORDS).await;
    assert_eq!(records.len(), 6);
    let first: brain_proto::events::v1::RecordIngested = prost::Message::decode(records[0].payload.as_slice()).unwrap();
    let first = first.record.unwrap();
    assert_eq!(first.id, "n-1");
    assert_eq!(first.source.unwrap().attributes["content_type"], "application/x-ndjson");
    let csv_record: brain_proto::events::v1::RecordIngested = prost::Message::decode(records[2].payload.as_slice()).unwrap();
    let payload: Value = serde_json::from_slice(&csv_record.record.unwrap().payload_json).unwrap();
    assert_eq!(payload, json!({"企业名称": "绍兴某纺织有限公司, 柯桥", "产量（米）": 1200, "备注": "第一行\r\n第二行"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_types_bad_bodies_and_limits_are_precise_problems() {
    let brain = common::start(|c| {
        c.ingestion.max_body_bytes = 1024;
        c.ingestion.max_batch_records = 3;
        c.ingestion.max_record_bytes = 512;
    })
    .await;
    let url = brain.records_url("acme", "orders");

    for content_type in ["text/plain", "application/xml", "application/x-www-form-urlencoded", "text/csv; charset=gbk"] {
        let (status, kind, problem) = post(&url, Some(content_type), "a,b\n1,2\n").await;
        assert_eq!(status, 415, "{content_type}: {problem}");
        assert_eq!(kind, "application/problem+json");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("application/json, application/x-ndjson, text/csv"), "{detail}");
        assert!(detail.contains(content_type), "{detail}");
    }

    let (status, _, problem) = post(&url, Some("text/csv"), "企业, ,产量\n1,2,3\n").await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["detail"], "CSV header (line 1), column 2: the field name is empty; every column needs a name");
    assert_eq!(problem["violations"][0]["field"], "column 2");

    let (status, _, problem) = post(&url, Some("application/json"), "[{\"a\":1},").await;
    assert_eq!(status, 400, "{problem}");
    assert!(problem["detail"].as_str().unwrap().starts_with("body is not a JSON array of records"), "{problem}");

    let (status, _, problem) = post(&url, Some("application/x-ndjson"), "{}\n{}\n{}\n{}\n").await;
    assert_eq!(status, 413, "{problem}");
    assert_eq!(problem["detail"], "body has more than 3 records (record 4 starts on line 4); the limit is 3 per request");

    let (status, _, problem) = post(&url, Some("text/csv"), vec![b'a'; 1025]).await;
    assert_eq!(status, 413, "{problem}");
    assert_eq!(problem["detail"], "body is 1025 bytes; the limit is 1024");
    assert_eq!(problem["violations"][0]["rule"], "max_body_bytes");

    // Exactly at the limit is fine; one oversized record is rejected on its own.
    let body = format!("a\n{}\n", "x".repeat(1021));
    assert_eq!(body.len(), 1024);
    let (status, _, ack) = post(&url, Some("text/csv"), body).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["results"][0]["status"], "rejected");
    assert_eq!(ack["results"][0]["line"], 2);
    assert_eq!(ack["results"][0]["violation"]["rule"], "max_record_bytes");
    assert_eq!(ack["results"][0]["violation"]["reason"], "record is 1021 bytes; the limit is 512");

    // A chunked body (no Content-Length) is cut off as soon as it passes the limit.
    let mut stream = tokio::net::TcpStream::connect(brain.http).await.unwrap();
    let head = "POST /api/v1/tenants/acme/datasets/orders/records HTTP/1.1\r\nhost: test\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..3 {
        let chunk = format!("{{\"blob\":\"{}\"}}\n", "y".repeat(500));
        // The server may answer and close before the last chunks are written.
        if stream.write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_string(&mut response)).await.unwrap().unwrap();
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("body is larger than the limit of 1024 bytes"), "{response}");
}
