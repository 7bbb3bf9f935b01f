//! `flaky-detector serve` as a child process on a free port, and a small JSON client for it.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use super::PATIENCE;
use super::process::Process;

pub struct Server {
    pub process: Process,
    pub base: String,
    pub client: reqwest::Client,
    /// Sent as `Authorization: Bearer <key>` when set.
    pub key: Option<String>,
}

impl Server {
    /// Starts `serve --port 0` with `args`.
    pub async fn start(args: &[&str]) -> Server {
        Server::start_with_env(args, &[]).await
    }

    /// Starts `serve --port 0` with `args` and these variables in its environment.
    pub async fn start_with_env(args: &[&str], env: &[(String, String)]) -> Server {
        let mut all = vec!["serve", "--port", "0"];
        all.extend(args);
        let process = Process::spawn(&all, env);
        let base = process.listening_url().await;
        let key = args
            .iter()
            .position(|a| *a == "--api-key")
            .map(|i| args[i + 1].to_string());
        Server {
            process,
            base,
            client: reqwest::Client::new(),
            key,
        }
    }

    fn with_key(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// POSTs `body` (JSON text) and returns the status and the parsed answer.
    pub async fn post_text(&self, path: &str, body: &str) -> (StatusCode, Value) {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        answer(
            self.with_key(request)
                .send()
                .await
                .expect("the server answers"),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.post_text(path, &body.to_string()).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let request = self.client.get(format!("{}{path}", self.base));
        answer(
            self.with_key(request)
                .send()
                .await
                .expect("the server answers"),
        )
        .await
    }

    /// Submits `input` with `/run` and returns the job id.
    pub async fn run(&self, input: &Value) -> String {
        let (status, body) = self
            .post("/run", &serde_json::json!({ "input": input }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "IN_QUEUE");
        body["id"].as_str().expect("an id").to_string()
    }

    /// Polls `/status/{id}` until the status is `wanted`.
    pub async fn wait_status(&self, id: &str, wanted: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (code, body) = self.get(&format!("/status/{id}")).await;
            if body["status"] == wanted {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} never reached {wanted}; last answer {code} {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("a body");
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("HTTP {status} with a non-JSON body: {text:?}"));
    (status, value)
}
