//! A conversation as Markdown (`codeforge export`, `/export`): each prompt under "You", each
//! answer under a one-line route card (model, intent and complexity, cost, latency). Pure:
//! the caller reads the ledger and writes the file.

use crate::ledger::{CostSource, Role, StoredMessage};
use crate::money::Usd;
use crate::router::Decision;

/// The route card of a recorded answer, as one line.
fn card(m: &StoredMessage) -> String {
    let Some(r) = &m.request else {
        return "CodeForge".to_string();
    };
    let model = r.served_model.as_deref().unwrap_or(&r.requested_model);
    let mut parts = vec![model.to_string()];
    if let Some(d) = r
        .decision_json
        .as_deref()
        .and_then(|j| serde_json::from_str::<Decision>(j).ok())
    {
        parts.push(format!("{} · {}", d.intent, d.complexity));
    }
    if let Some(n) = r.cost_nanos {
        let est = if r.cost_source.is_some_and(CostSource::is_estimate) {
            " (estimated)"
        } else {
            ""
        };
        parts.push(format!("{}{est}", Usd::from_nanos(n)));
    }
    if let Some(ms) = r.latency_ms {
        parts.push(format!("{ms} ms"));
    }
    if !r.status.is_ok() {
        parts.push(r.status.as_str().to_string());
    }
    parts.join(" · ")
}

/// `messages` of conversation `id` (titled `title`) as a Markdown document.
pub fn markdown(id: i64, title: &str, messages: &[StoredMessage]) -> String {
    let mut out = format!("# {}\n\n*CodeForge conversation {id}*\n", title.trim());
    for m in messages {
        let head = if m.role == Role::Assistant {
            format!("### {}", card(m))
        } else {
            "## You".to_string()
        };
        out.push_str(&format!("\n{head}\n\n{}\n", m.content.trim_end()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::StoredRequest;

    #[test]
    fn prompts_and_answers_with_a_card_line_each() {
        let request = StoredRequest {
            requested_model: "moonshotai/kimi-k2".into(),
            served_model: Some("moonshotai/kimi-k2".into()),
            decision_json: None,
            prompt_tokens: 10,
            completion_tokens: 20,
            reasoning_tokens: 0,
            cached_tokens: 0,
            cost_nanos: Some(200_000),
            cost_source: Some(CostSource::Provider),
            ttft_ms: Some(40),
            latency_ms: Some(46),
            status: crate::ledger::RequestStatus::Ended(crate::ledger::Status::Ok),
            generation_id: None,
        };
        let msgs = vec![
            StoredMessage {
                role: Role::User,
                content: "hi".into(),
                request_id: None,
                request: None,
            },
            StoredMessage {
                role: Role::Assistant,
                content: "Hello!\n".into(),
                request_id: Some(1),
                request: Some(request),
            },
        ];
        assert_eq!(
            markdown(7, "hi", &msgs),
            "# hi\n\n*CodeForge conversation 7*\n\n## You\n\nhi\n\n### moonshotai/kimi-k2 · $0.0002 · 46 ms\n\nHello!\n"
        );
    }
}
