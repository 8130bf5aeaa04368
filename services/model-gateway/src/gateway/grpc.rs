//! The gRPC twin of the OpenAI-compatible API (`ModelGatewayService`): the same checks,
//! routing, retries and metering as REST; requests become OpenAI JSON for the upstream, and
//! answers (streams chunk by chunk) come back as protobuf.

use super::api::{Gateway, Sent, send};
use super::guardrail::Decision;
use super::metering::Metered;
use super::openai::{self, OpenAiError, Operation};
use brain_auth::grpc_principal;
use brain_proto::gateway::v1::model_gateway_service_server::ModelGatewayService;
use brain_proto::gateway::v1::{
    ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse, ChatMessage, EmbedRequest, EmbedResponse, Embedding, GuardrailDecision, TokenUsage,
};
use futures::StreamExt;
use serde_json::{Value, json};
use std::pin::Pin;
use std::time::Instant;
use tonic::{Request, Response, Status};

fn status(error: OpenAiError) -> Status {
    let code = match error.status.as_u16() {
        400 | 413 | 422 => tonic::Code::InvalidArgument,
        401 => tonic::Code::Unauthenticated,
        403 => tonic::Code::PermissionDenied,
        404 => tonic::Code::NotFound,
        429 => tonic::Code::ResourceExhausted,
        504 => tonic::Code::DeadlineExceeded,
        502 | 503 => tonic::Code::Unavailable,
        _ => tonic::Code::Internal,
    };
    Status::new(code, error.message)
}

fn decision_to(decision: Decision) -> GuardrailDecision {
    match decision {
        Decision::Allow => GuardrailDecision::Allow,
        Decision::Mask => GuardrailDecision::Mask,
        Decision::Reroute => GuardrailDecision::Reroute,
        Decision::Block => GuardrailDecision::Block,
    }
}

fn chat_body(request: &ChatCompletionRequest, stream: bool) -> Value {
    let messages: Vec<Value> = request.messages.iter().map(|m| json!({ "role": m.role, "content": m.content })).collect();
    let mut body = json!({ "model": request.model, "messages": messages, "stream": stream });
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(n) = request.max_tokens {
        body["max_tokens"] = json!(n);
    }
    if stream {
        body["stream_options"] = json!({ "include_usage": true });
    }
    body
}

fn token_usage(value: &Value) -> Option<TokenUsage> {
    openai::usage(value).map(|(p, c)| TokenUsage { prompt_tokens: u32::try_from(p).unwrap_or(u32::MAX), completion_tokens: u32::try_from(c).unwrap_or(u32::MAX) })
}

/// Runs a non-streaming request and returns the upstream's JSON answer.
async fn complete(gateway: &Gateway, caller: &brain_auth::Principal, operation: Operation, body: Value) -> Result<(Value, String, Decision), Status> {
    let started = Instant::now();
    let request = openai::parse(operation, body.to_string().into()).map_err(status)?;
    let reservation = gateway.admit(caller, &request).await.map_err(|e| e.grpc_status())?;
    let Sent { route, answer, decision } = match send(gateway, caller, &request).await {
        Ok(sent) => sent,
        Err(error) => {
            gateway.settle(reservation, Some(0)).await;
            return Err(status(error));
        }
    };
    let code = answer.response.status();
    let bytes = answer.response.bytes().await;
    drop(answer.permit);
    let value: Value = match bytes.map(|b| serde_json::from_slice(&b)) {
        Ok(Ok(value)) => value,
        _ => {
            gateway.settle(reservation, None).await;
            return Err(status(OpenAiError::upstream(format!("the upstream answered {code} with a body that is not JSON, or broke off"))));
        }
    };
    let mut metered = Metered { model: route.model.clone(), version: route.version.clone(), status: code.as_u16(), guardrail: decision.as_str(), ..Metered::default() };
    let used = openai::usage(&value);
    if let Some((p, c)) = used {
        (metered.prompt_tokens, metered.completion_tokens, metered.usage_reported) = (p, c, true);
    }
    gateway.settle(reservation, if code.is_success() { used.map(|(p, c)| p + c) } else { Some(0) }).await;
    metered.latency = started.elapsed();
    gateway.meter.record(caller, &metered);
    if !code.is_success() {
        let message = value["error"]["message"].as_str().unwrap_or("the upstream refused the request").to_owned();
        return Err(status(OpenAiError { status: axum::http::StatusCode::from_u16(code.as_u16()).unwrap_or(axum::http::StatusCode::BAD_GATEWAY), ..OpenAiError::upstream(message) }));
    }
    Ok((value, route.model, decision))
}

type ChunkStream = Pin<Box<dyn futures::Stream<Item = Result<ChatCompletionChunk, Status>> + Send>>;

#[tonic::async_trait]
impl ModelGatewayService for Gateway {
    async fn chat_completion(&self, request: Request<ChatCompletionRequest>) -> Result<Response<ChatCompletionResponse>, Status> {
        let caller = grpc_principal(&request)?;
        let (value, model, decision) = complete(self, &caller, Operation::Chat, chat_body(request.get_ref(), false)).await?;
        let choice = &value["choices"][0];
        Ok(Response::new(ChatCompletionResponse {
            id: value["id"].as_str().unwrap_or_default().to_owned(),
            model,
            message: Some(ChatMessage {
                role: choice["message"]["role"].as_str().unwrap_or("assistant").to_owned(),
                content: choice["message"]["content"].as_str().unwrap_or_default().to_owned(),
            }),
            finish_reason: choice["finish_reason"].as_str().unwrap_or_default().to_owned(),
            usage: token_usage(&value),
            guardrail: decision_to(decision) as i32,
        }))
    }

    async fn stream_chat_completion(&self, request: Request<ChatCompletionRequest>) -> Result<Response<ChunkStream>, Status> {
        let caller = grpc_principal(&request)?;
        let started = Instant::now();
        let proxy = openai::parse(Operation::Chat, chat_body(request.get_ref(), true).to_string().into()).map_err(status)?;
        let reservation = self.admit(&caller, &proxy).await.map_err(|e| e.grpc_status())?;
        let Sent { route, answer, decision } = match send(self, &caller, &proxy).await {
            Ok(sent) => sent,
            Err(error) => {
                self.settle(reservation, Some(0)).await;
                return Err(status(error));
            }
        };
        if !answer.response.status().is_success() {
            self.settle(reservation, Some(0)).await;
            return Err(status(OpenAiError::upstream(format!("the upstream answered {}", answer.response.status()))));
        }
        let gateway = self.clone();
        let mut metered = Metered { model: route.model.clone(), version: route.version.clone(), status: 200, guardrail: decision.as_str(), ..Metered::default() };
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<ChatCompletionChunk, Status>>(16);
        let mut upstream = answer.response.bytes_stream();
        let permit = answer.permit;
        tokio::spawn(async move {
            let mut lines = openai::SseData::default();
            'read: while let Some(chunk) = upstream.next().await {
                let Ok(bytes) = chunk else {
                    let _ = sender.send(Err(Status::unavailable("the upstream stream broke off"))).await;
                    metered.status = 502;
                    break;
                };
                for data in lines.feed(&bytes) {
                    if data == "[DONE]" {
                        break 'read;
                    }
                    let Ok(value) = serde_json::from_str::<Value>(&data) else { continue };
                    let usage = token_usage(&value);
                    if let Some(u) = &usage {
                        (metered.prompt_tokens, metered.completion_tokens, metered.usage_reported) = (u64::from(u.prompt_tokens), u64::from(u.completion_tokens), true);
                    }
                    let choice = &value["choices"][0];
                    let piece = ChatCompletionChunk {
                        id: value["id"].as_str().unwrap_or_default().to_owned(),
                        delta: choice["delta"]["content"].as_str().unwrap_or_default().to_owned(),
                        finish_reason: choice["finish_reason"].as_str().unwrap_or_default().to_owned(),
                        usage,
                    };
                    if sender.send(Ok(piece)).await.is_err() {
                        break 'read; // the caller went away
                    }
                }
            }
            drop(permit);
            let used = metered.usage_reported.then_some(metered.prompt_tokens + metered.completion_tokens);
            gateway.settle(reservation, used).await;
            metered.latency = started.elapsed();
            gateway.meter.record(&caller, &metered);
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))))
    }

    async fn embed(&self, request: Request<EmbedRequest>) -> Result<Response<EmbedResponse>, Status> {
        let caller = grpc_principal(&request)?;
        let body = json!({ "model": request.get_ref().model, "input": request.get_ref().input });
        let (value, _, _) = complete(self, &caller, Operation::Embedding, body).await?;
        let embeddings = value["data"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|item| Embedding { values: item["embedding"].as_array().map(|v| v.iter().filter_map(Value::as_f64).map(|f| f as f32).collect()).unwrap_or_default() })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Response::new(EmbedResponse { embeddings, usage: token_usage(&value) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_meaning_over_grpc() {
        assert_eq!(status(OpenAiError::model_not_found("m")).code(), tonic::Code::NotFound);
        assert_eq!(status(OpenAiError::invalid("temperature", "x")).code(), tonic::Code::InvalidArgument);
        assert_eq!(status(OpenAiError::unavailable("x")).code(), tonic::Code::Unavailable);
    }
}
