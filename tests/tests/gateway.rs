#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! The model gateway end to end: a model registered with an upstream that speaks the OpenAI
//! protocol (a real HTTP server in this test), called through the brain by the unchanged
//! official OpenAI Python library — listing, a completion, a stream token by token, an
//! unknown model — and metered for the caller's tenant.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_openai_library_works_unchanged_streaming_included() {
    let python = std::process::Command::new("bash").arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/client-tools.sh")).output().unwrap();
    if !python.status.success() {
        assert!(!brain_testkit::engines::under_ci(), "infra/client-tools.sh failed: {}", String::from_utf8_lossy(&python.stderr));
        eprintln!("skipping: the OpenAI library could not be installed");
        return;
    }
    let python = String::from_utf8(python.stdout).unwrap().lines().last().unwrap().trim().to_owned();

    let data = tempfile::tempdir().unwrap();
    let brain = brain_up(data.path());
    let http = brain.http.as_str();
    let admin = platform_admin(http).await;
    serve_model(http, &admin, &mock_upstream().await, 16).await;
    let weaver = tenant_user(http, &admin, TENANT, "enterprise", "weaver", &["enterprise-admin"]).await;
    let key: Value = weaver.http.post(format!("{http}/api/v1/identity/tenants/{TENANT}/api-keys")).json(&json!({"name": "assistant", "roles": ["enterprise-admin"]})).send().await.unwrap().json().await.unwrap();
    let secret = key["secret"].as_str().unwrap().to_owned();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/openai_client.py");
    let base_url = format!("{http}/v1");
    let output = tokio::task::spawn_blocking(move || std::process::Command::new(python).args([script, &base_url, &secret, "textile-qa"]).output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the OpenAI client failed:\n{stderr}");
    let seen: Value = serde_json::from_slice(output.stdout.trim_ascii()).unwrap();
    assert!(seen["models"].as_array().unwrap().iter().any(|m| m == "textile-qa"), "{seen}");
    assert_eq!(seen["content"], "库存 1200 米。");
    assert_eq!(seen["usage"], 18);
    assert_eq!(seen["streamed"], json!(["库存", " 1200", " 米", "。"]), "tokens arrive one by one: {seen}");
    let (first, whole) = (seen["first_token_after"].as_f64().unwrap(), seen["stream_seconds"].as_f64().unwrap());
    assert!(first < 0.4 && whole >= 0.6, "the first token came before the stream ended (first {first:.3} s of {whole:.3} s)");
    assert_eq!(seen["error"], json!({"class": "NotFoundError", "status": 404, "code": "model_not_found"}), "{seen}");

    // The gRPC twin answers the same, streaming included.
    use brain_proto::gateway::v1 as pb;
    let mut grpc = pb::model_gateway_service_client::ModelGatewayServiceClient::new(weaver.grpc(&brain.grpc).await);
    let ask = pb::ChatCompletionRequest { model: "textile-qa".into(), messages: vec![pb::ChatMessage { role: "user".into(), content: "库存?".into() }], ..Default::default() };
    let reply = grpc.chat_completion(ask.clone()).await.unwrap().into_inner();
    assert_eq!((reply.message.unwrap().content.as_str(), reply.usage.map(|u| u.prompt_tokens + u.completion_tokens)), ("库存 1200 米。", Some(18)));
    let mut chunks = grpc.stream_chat_completion(ask).await.unwrap().into_inner();
    let mut deltas = Vec::new();
    while let Some(chunk) = chunks.message().await.unwrap() {
        if !chunk.delta.is_empty() {
            deltas.push(chunk.delta);
        }
    }
    assert_eq!(deltas, ["库存", " 1200", " 米", "。"]);
    let unknown = pb::ChatCompletionRequest { model: "no-such-model".into(), messages: vec![pb::ChatMessage { role: "user".into(), content: "x".into() }], ..Default::default() };
    assert_eq!(grpc.chat_completion(unknown).await.unwrap_err().code(), tonic::Code::NotFound);

    // Every request is one usage event for the caller's tenant: (18 + 15) × 2 tokens as reported.
    let usage_url = format!("{http}/api/v1/tenants/{TENANT}/usage");
    eventually(Duration::from_secs(20), "model tokens metered", || async {
        let usage: Value = weaver.http.get(&usage_url).send().await.ok()?.json().await.ok()?;
        let tokens = usage["totals"].as_array()?.iter().find(|t| t["kind"] == "model_tokens")?["quantity"].as_f64()?;
        (tokens == 66.0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_and_bad_upstreams_get_openai_errors() {
    let data = tempfile::tempdir().unwrap();
    let brain = brain_up(data.path());
    let http = brain.http.as_str();
    let admin = platform_admin(http).await;
    // An upstream that accepts connections and never answers, one that answers garbage.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}/v1", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let garbage = axum::Router::new().route("/v1/chat/completions", axum::routing::post(|| async { "<html>oops</html>" }));
    let garbage_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let garbage_url = format!("http://{}/v1", garbage_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(garbage_listener, garbage).await.unwrap() });
    // One that starts an event stream and hangs up before its first event.
    let broken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let broken_url = format!("http://{}/v1", broken.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = broken.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                // Read the whole request (until the client pauses), so closing sends no reset.
                let mut request = [0u8; 8192];
                while let Ok(Ok(read)) = tokio::time::timeout(Duration::from_millis(200), socket.read(&mut request)).await {
                    if read == 0 {
                        break;
                    }
                }
                let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                let _ = socket.write_all(head).await;
            });
        }
    });
    let models = format!("{http}/api/v1/models");
    for (name, url, timeout) in [("silent", &silent_url, Some(500)), ("garbage", &garbage_url, None), ("broken", &broken_url, None)] {
        let model = json!({"name": name, "level": "foundation",
            "version": {"version": "1", "endpoints": [{"url": url, "location": "on_premise", "max_concurrency": 4, "request_timeout_ms": timeout}]}});
        assert_eq!(admin.http.post(&models).json(&model).send().await.unwrap().status(), 201);
        for stage in ["staging", "production"] {
            admin.http.post(format!("{models}/{name}/versions/1/promote")).json(&json!({"stage": stage})).send().await.unwrap();
        }
    }
    let weaver = tenant_user(http, &admin, TENANT, "enterprise", "weaver", &["enterprise-admin"]).await;
    let chat = |body: String| weaver.http.post(format!("{http}/v1/chat/completions")).header("content-type", "application/json").body(body).send();
    let error_of = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["message"].is_string() && body["error"]["type"].is_string(), "OpenAI error format: {body}");
        (status, body)
    };

    let (status, body) = error_of(chat("{\"model\": ".into()).await.unwrap()).await;
    assert_eq!((status, body["error"]["param"].as_str()), (400, Some("body")), "{body}");
    let (status, body) = error_of(chat(json!({"model": "garbage", "messages": [{"role": "user"}], "temperature": 9}).to_string()).await.unwrap()).await;
    assert_eq!((status, body["error"]["param"].as_str()), (400, Some("temperature")), "{body}");
    let (status, body) = error_of(chat(json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]}).to_string()).await.unwrap()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("model_not_found")), "{body}");
    let huge = json!({"model": "garbage", "messages": [{"role": "user", "content": "x".repeat(5 << 20)}]}).to_string();
    // Refused by its declared length, before it is read: the answer is 413, or — when the
    // server closes before the client has finished sending — a connection the server ended.
    // A client of its own, so that the connection the server ends is not reused below.
    let oversize = Session::new(weaver.token.clone(), TENANT).http.post(format!("{http}/v1/chat/completions")).header("content-type", "application/json").body(huge);
    match oversize.send().await {
        Ok(response) => assert_eq!(response.status(), 413, "oversize prompts are refused"),
        Err(error) => assert!(error.is_request(), "{error}"),
    }

    let started = std::time::Instant::now();
    let (status, body) = error_of(chat(json!({"model": "silent", "messages": [{"role": "user", "content": "x"}]}).to_string()).await.unwrap()).await;
    assert_eq!(status, 502, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("timed out") && started.elapsed() < Duration::from_secs(5), "{body}");
    let (status, body) = error_of(chat(json!({"model": "garbage", "messages": [{"role": "user", "content": "x"}]}).to_string()).await.unwrap()).await;
    assert_eq!(status, 502, "{body}");
    assert!(!body.to_string().contains("127.0.0.1"), "upstream addresses are not shown to callers: {body}");
    // A stream that ends before its first event is an error, not an empty `200` stream.
    let (status, body) = error_of(chat(json!({"model": "broken", "stream": true, "messages": [{"role": "user", "content": "x"}]}).to_string()).await.unwrap()).await;
    assert_eq!(status, 502, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("before the first chunk"), "{body}");

    // The gateway still answers after all that.
    let listed: Value = weaver.http.get(format!("{http}/v1/models")).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["object"], "list");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_token_budget_refuses_with_a_retry_hint() {
    let data = tempfile::tempdir().unwrap();
    let args = ["up", "--data-dir", data.path().to_str().unwrap(), "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"];
    let (collector, otlp) = brain_testkit::MockCollector::start().await.unwrap();
    let env = [("BRAIN_MODEL_GATEWAY__LIMITS__TENANT__TOKENS_PER_DAY", "40"), ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()), ("OTEL_BSP_SCHEDULE_DELAY", "200")];
    let brain = brain_testkit::BrainProcess::spawn(&args, &env).unwrap();
    let http = brain.http.as_str();
    let admin = platform_admin(http).await;
    serve_model(http, &admin, &mock_upstream().await, 16).await;
    let weaver = tenant_user(http, &admin, TENANT, "enterprise", "weaver", &["enterprise-admin"]).await;
    // Each request reserves its prompt (4 characters) and max_tokens (10); the upstream reports 18.
    let ask = json!({"model": "textile-qa", "messages": [{"role": "user", "content": "库存?"}], "max_tokens": 10});
    for _ in 0..2 {
        let answered = weaver.http.post(format!("{http}/v1/chat/completions")).json(&ask).send().await.unwrap();
        assert_eq!(answered.status(), 200, "{}", answered.text().await.unwrap());
    }
    let refused = weaver.http.post(format!("{http}/v1/chat/completions")).json(&ask).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"), "{:?}", refused.headers());
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["type"], "insufficient_quota", "{body}");

    // The same budget holds over gRPC.
    use brain_proto::gateway::v1 as pb;
    let mut grpc = pb::model_gateway_service_client::ModelGatewayServiceClient::new(weaver.grpc(&brain.grpc).await);
    let ask = pb::ChatCompletionRequest { model: "textile-qa".into(), messages: vec![pb::ChatMessage { role: "user".into(), content: "库存?".into() }], max_tokens: Some(10), ..Default::default() };
    assert_eq!(grpc.chat_completion(ask).await.unwrap_err().code(), tonic::Code::ResourceExhausted);

    // Each request is a span with OpenTelemetry's GenAI attributes: model and tokens.
    let span = eventually(Duration::from_secs(20), "a GenAI span at the collector", || {
        let spans = collector.spans();
        async move { spans.into_iter().find(|s| s.name == "chat textile-qa" && s.attributes.iter().any(|a| a.starts_with("gen_ai.usage.input_tokens="))) }
    })
    .await;
    for attribute in ["gen_ai.operation.name=", "gen_ai.request.model=", "gen_ai.response.model=", "gen_ai.usage.output_tokens=", "brain.guardrail.decision="] {
        assert!(span.attributes.iter().any(|a| a.starts_with(attribute)), "{attribute} missing: {:?}", span.attributes);
    }
}

/// An upstream that keeps what it was sent.
async fn recording_upstream() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let seen: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |axum::Json(request): axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(request["messages"][0]["content"].as_str().unwrap_or_default().to_owned());
                completion(axum::Json(json!({"stream": false}))).await
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guardrail_allows_masks_reroutes_and_blocks_by_grade_and_records_it() {
    let data = tempfile::tempdir().unwrap();
    let brain = brain_up(data.path());
    let http = brain.http.as_str();
    let admin = platform_admin(http).await;
    let ((external, to_external), (on_premise, to_on_premise)) = (recording_upstream().await, recording_upstream().await);
    let models = format!("{http}/api/v1/models");
    for (name, endpoints) in [
        ("hosted-chat", json!([{"url": external, "location": "external", "max_concurrency": 8}])),
        ("mixed-chat", json!([{"url": external, "location": "external", "max_concurrency": 8, "weight": 1000}, {"url": on_premise, "location": "on_premise", "max_concurrency": 8, "weight": 1}])),
    ] {
        let model = json!({"name": name, "level": "foundation", "version": {"version": "1", "endpoints": endpoints}});
        assert_eq!(admin.http.post(&models).json(&model).send().await.unwrap().status(), 201);
        for stage in ["staging", "production"] {
            admin.http.post(format!("{models}/{name}/versions/1/promote")).json(&json!({"stage": stage})).send().await.unwrap();
        }
    }
    let weaver = tenant_user(http, &admin, TENANT, "enterprise", "weaver", &["enterprise-admin"]).await;
    let ask = |model: &str, content: &str| {
        weaver.http.post(format!("{http}/v1/chat/completions")).json(&json!({"model": model, "messages": [{"role": "user", "content": content}]})).send()
    };
    let id_card = id_card("330602", "19850315", 7);
    let decision = |response: &reqwest::Response| response.headers()["x-brain-guardrail"].to_str().unwrap().to_owned();

    // Low: anywhere, as it is.
    let low = ask("hosted-chat", "本周坯布的平均价格是多少?").await.unwrap();
    assert_eq!((low.status().as_u16(), decision(&low)), (200, "allow".to_owned()));
    // Medium (a phone number): masked before it goes outside.
    let medium = ask("hosted-chat", "请联系业务员 13812345678 确认交期").await.unwrap();
    assert_eq!((medium.status().as_u16(), decision(&medium)), (200, "mask".to_owned()));
    let sent_out = to_external.lock().unwrap().last().cloned().unwrap();
    assert!(!sent_out.contains("13812345678") && sent_out.contains("确认交期"), "masked, the rest intact: {sent_out}");
    // High (an ID card number): only on premise — rerouted where there is such an endpoint…
    let high = ask("mixed-chat", &format!("工人身份证 {id_card} 的工时是多少?")).await.unwrap();
    assert_eq!((high.status().as_u16(), decision(&high)), (200, "reroute".to_owned()));
    assert!(to_on_premise.lock().unwrap().last().unwrap().contains(&id_card));
    // …and blocked where there is none.
    let before = to_external.lock().unwrap().len();
    let blocked = ask("hosted-chat", &format!("工人身份证 {id_card}")).await.unwrap();
    assert_eq!((blocked.status().as_u16(), decision(&blocked)), (403, "block".to_owned()));
    let body: Value = blocked.json().await.unwrap();
    assert_eq!(body["error"]["code"], "guardrail_blocked", "{body}");
    assert!(!body.to_string().contains(&id_card), "the refusal does not echo the value: {body}");
    assert_eq!(to_external.lock().unwrap().len(), before, "nothing reached the external endpoint");
    assert!(!to_external.lock().unwrap().iter().any(|p| p.contains(&id_card)), "no ID number ever left");

    // Every decision about graded content is in the ledger, without the values.
    let auditor = platform_officer(http, &admin, "auditor", "auditor").await;
    let entries: Value = auditor.http.get(format!("{http}/api/v1/ledger/entries?limit=1000")).send().await.unwrap().json().await.unwrap();
    let decisions: Vec<&str> = entries["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "gateway.guardrail").map(|e| e["details"]["decision"].as_str().unwrap()).collect();
    assert_eq!(decisions, ["mask", "reroute", "block"], "{entries}");
    assert!(!entries.to_string().contains(&id_card) && !entries.to_string().contains("13812345678"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_the_caller_abandons_is_metered_and_frees_its_endpoint_slot() {
    let data = tempfile::tempdir().unwrap();
    let brain = brain_up(data.path());
    let http = brain.http.as_str();
    let admin = platform_admin(http).await;
    // One request at a time: a slot the abandoned stream kept would refuse the next request.
    serve_model(http, &admin, &mock_upstream().await, 1).await;
    let weaver = tenant_user(http, &admin, TENANT, "enterprise", "weaver", &["enterprise-admin"]).await;
    let ask = json!({"model": "textile-qa", "messages": [{"role": "user", "content": "库存?"}], "stream": true});

    // Read the first chunk (the mock sends the rest 150 ms apart), then hang up.
    let mut response = weaver.http.post(format!("{http}/v1/chat/completions")).json(&ask).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("库存"), "{first:?}");
    drop(response);

    // The abandoned stream is metered once the gateway sees the caller gone, without reported
    // usage (no usage chunk reached the gateway). Its slot is released before it is metered, so
    // waiting here (not retrying requests, which would be refused and metered too) keeps the
    // count exact.
    let usage_url = format!("{http}/api/v1/tenants/{TENANT}/usage");
    let tokens_metered = |events: u64| {
        let (weaver, usage_url) = (&weaver, &usage_url);
        async move {
            let usage: Value = weaver.http.get(usage_url).send().await.ok()?.json().await.ok()?;
            let total = usage["totals"].as_array()?.iter().find(|t| t["kind"] == "model_tokens")?.clone();
            (total["events"] == events).then_some(total["quantity"].as_f64()?)
        }
    };
    let quantity = eventually(Duration::from_secs(20), "the abandoned stream metered", || tokens_metered(1)).await;
    assert_eq!(quantity, 0.0);

    // The slot is free again: the next request is answered, not refused as over the limit.
    let next = weaver.http.post(format!("{http}/v1/chat/completions")).json(&json!({"model": "textile-qa", "messages": [{"role": "user", "content": "库存?"}]})).send().await.unwrap();
    assert_eq!(next.status(), 200);
    assert_eq!(next.json::<Value>().await.unwrap()["usage"]["total_tokens"], 18);

    // Both requests are metered: the unary one with its 18 tokens.
    let quantity = eventually(Duration::from_secs(20), "both requests metered", || tokens_metered(2)).await;
    assert_eq!(quantity, 18.0);
}
