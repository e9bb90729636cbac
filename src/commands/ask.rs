//! `codeforge ask`: one prompt, routed, streamed to stdout (or one JSON object).

use std::io::{Read, Write};
use std::time::Instant;

use serde_json::json;

use super::{CommandError, Output};
use crate::backend::Backend;
use crate::cli::AskArgs;
use crate::config::Config;
use crate::provider::{ChatRequest, Message, StreamEvent, drive};
use crate::router;
use crate::sanitize::Sanitizer;
use crate::simulator::estimate_tokens;

/// Largest answer budget requested when the catalog allows more.
const MAX_TOKENS_CAP: u64 = 8192;

const SYSTEM_PROMPT: &str = "You are CodeForge, a concise coding assistant in a terminal. \
Answer in GitHub-flavoured Markdown; put code in fenced blocks with a language tag.";

fn read_prompt(args: &AskArgs) -> Result<String, CommandError> {
    let prompt = match &args.prompt {
        Some(p) => p.clone(),
        None => {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).map_err(|e| {
                CommandError::Usage(format!("cannot read the prompt from stdin: {e}"))
            })?;
            // Invalid UTF-8 is replaced, not fatal: a stray byte must not lose the prompt.
            String::from_utf8_lossy(&bytes).into_owned()
        }
    };
    if prompt.trim().is_empty() {
        return Err(CommandError::Usage(
            "empty prompt: pass it as an argument or on stdin".into(),
        ));
    }
    Ok(prompt)
}

pub async fn run(
    config: &Config,
    args: &AskArgs,
    demo: bool,
    out: &mut Output,
) -> Result<(), CommandError> {
    let prompt = read_prompt(args)?;
    let backend = Backend::connect(config, demo).await?;
    if backend.demo {
        out.err_line("demo mode: no OPENROUTER_API_KEY (or --demo); answers come from the built-in simulator");
    }
    let decision = router::decide(&backend.catalog, &prompt, 0, args.model.as_deref())?;
    let model = backend
        .catalog
        .get(&decision.model)
        .ok_or_else(|| CommandError::Usage(format!("unknown model {}", decision.model)))?;
    out.err_line(&format!("→ {}", decision.reason));

    let request = ChatRequest {
        model: model.request_id().to_string(),
        messages: vec![
            Message::system(SYSTEM_PROMPT),
            Message::user(prompt.clone()),
        ],
        max_tokens: Some(model.max_output.min(MAX_TOKENS_CAP)),
        temperature: None,
    };
    let client = backend.client_for(&decision.model, config)?;
    let started = Instant::now();
    let stream = client.stream(&request).await?;
    let mut sanitizer = Sanitizer::new();
    let stream_text = !args.json;
    let result = drive(stream, started, |ev| {
        if let (true, StreamEvent::Content(t)) = (stream_text, ev) {
            out.write_out(&sanitizer.push(t));
        }
    })
    .await;
    let completion = match result {
        Ok(c) => c,
        Err(failed) => {
            if stream_text && !failed.partial.content.is_empty() {
                out.write_out("\n");
                out.err_line("[answer cut]");
            }
            return Err(failed.error.into());
        }
    };
    if stream_text && !completion.content.ends_with('\n') {
        out.write_out("\n");
    }

    let (prompt_tokens, completion_tokens, cost, cost_source) = match completion.usage {
        Some(u) => match u.cost {
            Some(c) => (u.prompt_tokens, u.completion_tokens, c, "provider"),
            None => (
                u.prompt_tokens,
                u.completion_tokens,
                model.cost(u.prompt_tokens, u.completion_tokens),
                "estimate",
            ),
        },
        None => {
            let p = estimate_tokens(SYSTEM_PROMPT) + estimate_tokens(&prompt);
            let c = estimate_tokens(&completion.content) + estimate_tokens(&completion.reasoning);
            (p, c, model.cost(p, c), "estimate")
        }
    };
    let served = completion
        .served_model
        .clone()
        .unwrap_or_else(|| decision.model.clone());
    let ttft_ms = completion.ttft.map(|d| d.as_millis() as u64);
    let latency_ms = completion.latency.as_millis() as u64;
    if args.json {
        let request_id = completion
            .generation_id
            .clone()
            .unwrap_or_else(|| format!("local-{}", std::process::id()));
        let obj = json!({
            "request_id": request_id,
            "model": served,
            "requested_model": decision.model,
            "content": completion.content,
            "reasoning": completion.reasoning,
            "finish_reason": completion.finish_reason,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "reasoning_tokens": completion.usage.map_or(0, |u| u.reasoning_tokens),
                "cached_tokens": completion.usage.map_or(0, |u| u.cached_tokens),
                "cost_usd": cost.dollars(),
                "cost_source": cost_source,
            },
            "ttft_ms": ttft_ms,
            "latency_ms": latency_ms,
            "decision": decision,
            "demo": backend.demo,
        });
        out.write_out(&format!("{obj}\n"));
    } else {
        let est = if cost_source == "estimate" {
            " (estimated)"
        } else {
            ""
        };
        let finish = match completion.finish_reason.as_deref() {
            Some("length") => " · stopped at max_tokens",
            _ => "",
        };
        out.err_line(&format!(
            "✓ {served} · {prompt_tokens}+{completion_tokens} tokens · {}{est} · first token {} · {latency_ms} ms{finish}",
            cost,
            ttft_ms.map_or("-".to_string(), |t| format!("{t} ms")),
        ));
    }
    out.flush();
    Ok(())
}

impl Output {
    fn write_out(&mut self, s: &str) {
        if self.stdout_broken || s.is_empty() {
            return;
        }
        let mut lock = std::io::stdout().lock();
        if lock
            .write_all(s.as_bytes())
            .and_then(|_| lock.flush())
            .is_err()
        {
            self.stdout_broken = true;
        }
    }
}
