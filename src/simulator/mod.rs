//! The built-in OpenRouter simulator: an OpenRouter-compatible HTTP server on loopback.
//!
//! It is the project's test double, demo backend and benchmark target, so it follows the
//! reference behaviour: keep-alive comments, content (and reasoning) deltas, the finish
//! chunk sent twice with usage on the second, cost from catalog prices, `[DONE]`,
//! OpenRouter-shaped error bodies with `Retry-After`, `/models`, `/key`, `/generation`.
//! Faults are injected per model. Must not import the router, ledger or tui modules.

mod answer;
mod faults;
mod keys;
mod stream;

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub use answer::compose as compose_answer;

use crate::tokens::estimate_tokens;
pub use faults::{Behaviour, Fault, FaultPlan, parse_fault};

use crate::catalog::{Catalog, ModelSpec};

type SimBody = BoxBody<Bytes, std::io::Error>;

/// Largest request body accepted (a 10 MB paste fits).
const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// Requests remembered for [`Simulator::requests`]: the newest, each with its body (a
/// conversation's whole history), so a long run does not grow without end.
pub const REQUESTS_KEPT: usize = 256;

/// One request as the simulator saw it (for tests that check headers and bodies).
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub title: Option<String>,
    pub referer: Option<String>,
    pub body: Option<Value>,
}

/// What the simulator remembers of a generation, for `GET /generation`.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRecord {
    pub id: String,
    pub model: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_cost: f64,
    pub cancelled: bool,
    /// The key it was billed to.
    pub key: String,
}

/// Mutable state shared by all connections.
pub(crate) struct SimState {
    catalog: Catalog,
    default_behaviour: Mutex<Behaviour>,
    behaviours: Mutex<HashMap<String, Behaviour>>,
    faults: Mutex<HashMap<String, FaultPlan>>,
    unlisted: Mutex<HashSet<String>>,
    required_key: Mutex<Option<String>>,
    requests: Mutex<VecDeque<RecordedRequest>>,
    /// Whether requests are remembered at all (not where nobody reads them: the demo).
    keep_requests: AtomicBool,
    generations: Mutex<HashMap<String, GenerationRecord>>,
    counter: AtomicU64,
    /// Keys' limits, what is in flight on them, the keys created through `/keys`.
    keys: Mutex<keys::KeyState>,
    /// Prices served and billed, as a multiple of the catalog's (prices drift).
    price_scale: Mutex<f64>,
    /// Whether `provider.max_price` blocks a dearer request, as OpenRouter does (servers
    /// written elsewhere may ignore it).
    honour_max_price: std::sync::atomic::AtomicBool,
    /// Start time and process id, so generation ids differ between runs the way
    /// OpenRouter's do (feedback finds a request by its generation id).
    run_tag: String,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SimState {
    fn remember(&self, record: RecordedRequest) {
        if !self.keep_requests.load(Ordering::Relaxed) {
            return;
        }
        let mut kept = lock(&self.requests);
        if kept.len() == REQUESTS_KEPT {
            kept.pop_front();
        }
        kept.push_back(record);
    }

    fn behaviour(&self, model: &str) -> Behaviour {
        lock(&self.behaviours)
            .get(model)
            .copied()
            .unwrap_or_else(|| *lock(&self.default_behaviour))
    }

    /// Take the fault for this request, counting down limited plans.
    fn take_fault(&self, model: &str) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let plan = faults.get_mut(model)?;
        let fault = plan.fault.clone();
        if let Some(n) = plan.remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                faults.remove(model);
            }
        }
        Some(fault)
    }

    fn model(&self, id: &str) -> Option<&ModelSpec> {
        if lock(&self.unlisted).contains(id) {
            return None;
        }
        self.catalog.get(id)
    }

    pub(crate) fn record_generation(&self, g: GenerationRecord) {
        // Usage and in-flight change together, under the generations lock.
        let mut generations = lock(&self.generations);
        lock(&self.keys).settled(&g.id);
        generations.insert(g.id.clone(), g);
    }

    /// Billed so far, every generation.
    fn usage(&self) -> f64 {
        lock(&self.generations).values().map(|g| g.total_cost).sum()
    }

    /// The catalog's model at the prices this server charges now.
    fn priced(&self, model: &ModelSpec) -> ModelSpec {
        let scale = *lock(&self.price_scale);
        let mut m = model.clone();
        m.prompt_price *= scale;
        m.completion_price *= scale;
        m
    }
}

/// A running simulator. Dropping it stops the server and every open connection.
pub struct Simulator {
    addr: SocketAddr,
    state: Arc<SimState>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Simulator {
    /// Start on 127.0.0.1 with a free port.
    pub async fn start(catalog: Catalog, behaviour: Behaviour) -> std::io::Result<Self> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0)), catalog, behaviour).await
    }

    /// Start on a given address (`codeforge simulate --port N`).
    pub async fn bind(
        addr: SocketAddr,
        catalog: Catalog,
        behaviour: Behaviour,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(SimState {
            catalog,
            default_behaviour: Mutex::new(behaviour),
            behaviours: Mutex::new(HashMap::new()),
            faults: Mutex::new(HashMap::new()),
            unlisted: Mutex::new(HashSet::new()),
            required_key: Mutex::new(None),
            requests: Mutex::new(VecDeque::new()),
            keep_requests: AtomicBool::new(true),
            generations: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
            keys: Mutex::new(keys::KeyState::default()),
            price_scale: Mutex::new(1.0),
            honour_max_price: std::sync::atomic::AtomicBool::new(true),
            run_tag: format!(
                "{:x}{:x}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis()),
                std::process::id()
            ),
        });
        let server = tokio::spawn(accept_loop(listener, state.clone()));
        Ok(Self {
            addr,
            state,
            server,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to give a client (`OPENROUTER_BASE_URL`).
    pub fn url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    /// Inject a fault for one model (replaces any earlier one).
    pub fn set_fault(&self, model: &str, plan: FaultPlan) {
        lock(&self.state.faults).insert(model.to_string(), plan);
    }

    /// Inject a fault for every following request of one model.
    pub fn fail(&self, model: &str, fault: Fault) {
        self.set_fault(
            model,
            FaultPlan {
                fault,
                remaining: None,
            },
        );
    }

    pub fn clear_faults(&self) {
        lock(&self.state.faults).clear();
    }

    /// Timing for one model, or for all models without their own.
    pub fn set_behaviour(&self, model: Option<&str>, behaviour: Behaviour) {
        match model {
            Some(m) => {
                lock(&self.state.behaviours).insert(m.to_string(), behaviour);
            }
            None => *lock(&self.state.default_behaviour) = behaviour,
        }
    }

    /// Stop listing a model in `/models` and answer requests for it with 404.
    pub fn unlist(&self, model: &str) {
        lock(&self.state.unlisted).insert(model.to_string());
    }

    /// Accept only this bearer key (any non-empty key by default).
    pub fn require_key(&self, key: &str) {
        *lock(&self.state.required_key) = Some(key.to_string());
    }

    /// Give the key a spending limit in USD (resetting daily), enforced as OpenRouter does:
    /// 403 once spent, 402 "can only afford M" for a request whose worst case does not fit.
    pub fn set_key_limit(&self, usd: Option<f64>) {
        lock(&self.state.keys).default_limit = usd;
    }

    /// Let `key` call the key management API (`/keys`), as an OpenRouter management key.
    pub fn set_management_key(&self, key: &str) {
        lock(&self.state.keys).management_key = Some(key.to_string());
    }

    /// Serve and bill prices `scale` times the catalog's (OpenRouter's prices drift).
    pub fn set_price_scale(&self, scale: f64) {
        *lock(&self.state.price_scale) = scale;
    }

    /// Ignore `provider.max_price` (as a server written elsewhere may), or honour it.
    pub fn set_honour_max_price(&self, honour: bool) {
        self.state.honour_max_price.store(honour, Ordering::Relaxed);
    }

    /// What every generation so far was billed, in USD.
    pub fn billed(&self) -> f64 {
        self.state.usage()
    }

    /// The chat completions among the requests kept (see [`Self::requests`]), oldest first.
    pub fn completions(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests)
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/chat/completions"))
            .cloned()
            .collect()
    }

    /// The requests received so far (the newest [`REQUESTS_KEPT`]), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).iter().cloned().collect()
    }

    /// Remember no requests: for a simulator nobody asks what it received (the demo,
    /// `codeforge simulate`), whose memory then stays flat however long it serves.
    pub fn keep_no_requests(&self) {
        self.state.keep_requests.store(false, Ordering::Relaxed);
        lock(&self.state.requests).clear();
    }

    /// Generations served so far.
    pub fn generation(&self, id: &str) -> Option<GenerationRecord> {
        lock(&self.state.generations).get(id).cloned()
    }

    /// Run until the task is cancelled (standalone `codeforge simulate`).
    pub async fn wait(mut self) {
        let _ = (&mut self.server).await;
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<SimState>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((socket, _)) = accepted else { continue };
                let state = state.clone();
                connections.spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(socket);
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { handle(state, req).await }
                    });
                    // An Err from the service (the `refuse` fault) closes the connection
                    // without a response, which is what we want.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Returned by the service to drop a connection without answering.
#[derive(Debug)]
struct Abort;

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("simulated connection failure")
    }
}

impl std::error::Error for Abort {}

fn full(status: StatusCode, body: Value) -> Response<SimBody> {
    let bytes = Bytes::from(body.to_string());
    let mut resp = Response::new(
        Full::new(bytes)
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// An OpenRouter-shaped error response.
fn error_response(code: u16, message: &str, retry_after: Option<u64>) -> Response<SimBody> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = full(
        status,
        json!({"error": {"code": code, "message": message}, "user_id": "user_simulator"}),
    );
    if let Some(v) =
        retry_after.and_then(|s| hyper::header::HeaderValue::from_str(&s.to_string()).ok())
    {
        resp.headers_mut().insert(hyper::header::RETRY_AFTER, v);
    }
    resp
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn handle(state: Arc<SimState>, req: Request<Incoming>) -> Result<Response<SimBody>, Abort> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let route = path
        .strip_prefix("/api/v1")
        .or_else(|| path.strip_prefix("/v1"))
        .unwrap_or(&path)
        .to_string();
    let authorization = header(&req, "authorization");
    let mut record = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        authorization: authorization.clone(),
        title: header(&req, "x-title"),
        referer: header(&req, "http-referer"),
        body: None,
    };
    let body = match Limited::new(req.into_body(), MAX_REQUEST_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            state.remember(record);
            return Ok(error_response(413, "request body too large", None));
        }
    };
    if state.keep_requests.load(Ordering::Relaxed) {
        record.body = serde_json::from_slice(&body).ok();
    }
    state.remember(record);

    let key_ok = match (&authorization, &*lock(&state.required_key)) {
        (Some(a), Some(required)) => a == &format!("Bearer {required}"),
        (Some(a), None) => a
            .strip_prefix("Bearer ")
            .is_some_and(|k| !k.trim().is_empty()),
        (None, _) => false,
    };

    match (method.as_str(), route.as_str()) {
        ("GET", "/models") => Ok(models_response(&state)),
        (_, "/chat/completions" | "/key" | "/auth/key" | "/generation") if !key_ok => {
            Ok(error_response(401, "No auth credentials found", None))
        }
        (_, "/chat/completions" | "/key" | "/auth/key")
            if lock(&state.keys).disabled(keys::bearer(authorization.as_deref())) =>
        {
            Ok(error_response(401, "This key is disabled", None))
        }
        ("POST", "/chat/completions") => {
            let secret = keys::bearer(authorization.as_deref()).to_string();
            chat(state, &body, &secret).await
        }
        ("GET", "/key" | "/auth/key") => Ok(keys::key_response(
            &state,
            keys::bearer(authorization.as_deref()),
        )),
        (m, r) if r == "/keys" || r.starts_with("/keys/") => Ok(keys::manage(
            &state,
            keys::bearer(authorization.as_deref()),
            m,
            r,
            &body,
        )),
        ("GET", "/generation") => Ok(generation_response(&state, &query)),
        _ => Ok(error_response(
            404,
            &format!("no route for {method} {path}"),
            None,
        )),
    }
}

fn models_response(state: &SimState) -> Response<SimBody> {
    let unlisted = lock(&state.unlisted).clone();
    let data: Vec<Value> = state
        .catalog
        .models()
        .iter()
        .filter(|m| !unlisted.contains(&m.id))
        .map(|m| {
            let m = &state.priced(m);
            json!({
                "id": m.id,
                "name": m.name,
                "context_length": m.context_length,
                "pricing": {
                    "prompt": per_token(m.prompt_price),
                    "completion": per_token(m.completion_price),
                },
                "top_provider": {"context_length": m.context_length,
                                 "max_completion_tokens": m.max_output,
                                 "is_moderated": false},
            })
        })
        .collect();
    full(StatusCode::OK, json!({ "data": data }))
}

/// USD per million → OpenRouter's decimal string per token.
fn per_token(per_million: f64) -> String {
    let s = format!("{:.12}", per_million / 1e6);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() {
        "0".into()
    } else {
        s.to_string()
    }
}

fn generation_response(state: &SimState, query: &str) -> Response<SimBody> {
    let id = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("id="))
        .unwrap_or("");
    match lock(&state.generations).get(id) {
        Some(g) => full(
            StatusCode::OK,
            json!({"data": {"id": g.id, "model": g.model, "total_cost": g.total_cost,
                            "usage": g.total_cost, "tokens_prompt": g.prompt_tokens,
                            "tokens_completion": g.completion_tokens,
                            "native_tokens_prompt": g.prompt_tokens,
                            "native_tokens_completion": g.completion_tokens,
                            "cancelled": g.cancelled, "streamed": true}}),
        ),
        None => error_response(404, &format!("Generation {id} not found"), None),
    }
}

async fn chat(state: Arc<SimState>, body: &[u8], secret: &str) -> Result<Response<SimBody>, Abort> {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return Ok(error_response(400, "Invalid JSON body", None));
    };
    let Some(model_id) = req.get("model").and_then(Value::as_str) else {
        return Ok(error_response(400, "No model specified", None));
    };
    let Some(model) = state.model(model_id).map(|m| state.priced(m)) else {
        return Ok(error_response(
            404,
            &format!("No endpoints found for {model_id}."),
            None,
        ));
    };
    let Some(messages) = req.get("messages").and_then(Value::as_array) else {
        return Ok(error_response(400, "messages must be an array", None));
    };
    let fault = state.take_fault(&model.id);
    match &fault {
        Some(Fault::Status { code, retry_after }) => {
            let message = match code {
                401 => "User not found.",
                402 => "This request requires more credits, or fewer max_tokens.",
                403 => "Input was flagged by moderation.",
                429 => "Provider returned error: temporarily rate-limited upstream",
                502 => "Provider returned an invalid response",
                503 => "No available provider meets your routing requirements",
                _ => "Internal Server Error",
            };
            return Ok(error_response(*code, message, *retry_after));
        }
        Some(Fault::Refuse) => return Err(Abort),
        Some(Fault::Stall) => {
            tokio::time::sleep(Duration::from_secs(600)).await;
            return Err(Abort);
        }
        _ => {}
    }

    let prompt_text: String = messages
        .iter()
        .filter_map(|m| m.get("content").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n");
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .and_then(|m| m.get("content").and_then(Value::as_str))
        .unwrap_or("");
    let prompt_tokens = estimate_tokens(&prompt_text) + 3 * messages.len() as u64;
    if prompt_tokens > model.context_length {
        return Ok(error_response(
            400,
            &format!(
                "This endpoint's maximum context length is {} tokens. However, you requested about {prompt_tokens} tokens.",
                model.context_length
            ),
            None,
        ));
    }
    // `provider.max_price` blocks the request when no provider is that cheap (OpenRouter:
    // "unlike the preferred_* hints it blocks the request if no provider fits").
    if let Some(cap) = req
        .get("provider")
        .and_then(|p| p.get("max_price"))
        .filter(|_| state.honour_max_price.load(Ordering::Relaxed))
    {
        let over = |field: &str, price: f64| {
            cap.get(field)
                .and_then(Value::as_f64)
                .is_some_and(|max| price > max * (1.0 + 1e-9))
        };
        if over("prompt", model.prompt_price) || over("completion", model.completion_price) {
            return Ok(error_response(
                404,
                &format!(
                    "No allowed providers are available for the selected model: none at or under max_price (listed ${}/${} per M)",
                    model.prompt_price, model.completion_price
                ),
                None,
            ));
        }
    }
    let n = state.counter.fetch_add(1, Ordering::Relaxed) + 1;
    let id = format!("gen-sim-{}-{n}", state.run_tag);
    let max_tokens = req.get("max_tokens").and_then(Value::as_u64);
    if let Err(refused) = keys::admit(
        &state,
        secret,
        &id,
        &model,
        prompt_tokens,
        max_tokens.unwrap_or(model.max_output),
    ) {
        return Ok(error_response(refused.0, &refused.1, None));
    }
    let plan = stream::Plan::new(
        &model,
        id,
        last_user,
        prompt_tokens,
        max_tokens,
        state.behaviour(&model.id),
        fault,
    )
    .billed_to(secret);
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        Ok(stream::respond(state, plan))
    } else {
        Ok(full(StatusCode::OK, plan.non_streaming(&state)))
    }
}
