//! Template cards: WeCom's rules for a `button_interaction` card, and
//! `update_template_card` with a card's single-use response code.

use std::collections::{HashMap, HashSet};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::errors::{ok, wecom_error};
use super::gate::authorised_post;
use super::state::{CardUpdate, FakeState, UPDATE_CARD};

/// Why WeCom would refuse this `template_card` (docs/WECOM.md §7): only `button_interaction`
/// cards are sent by us, so only their rules are checked.
pub(super) fn card_error(card: &Value) -> Option<i64> {
    let text = |v: &Value| v.as_str().map(|s| s.chars().count());
    if card["card_type"].as_str() != Some("button_interaction") {
        return Some(42031);
    }
    let title = text(&card["main_title"]["title"]).unwrap_or(0);
    if title == 0 || title > 36 || text(&card["main_title"]["desc"]).unwrap_or(0) > 44 {
        return Some(40058);
    }
    if text(&card["sub_title_text"]).unwrap_or(0) > 160 {
        return Some(40058);
    }
    if let Some(lines) = card.get("horizontal_content_list") {
        let ok = lines.as_array().is_some_and(|l| {
            l.len() <= 6
                && l.iter().all(|line| {
                    text(&line["keyname"]).is_some_and(|n| (1..=5).contains(&n))
                        && text(&line["value"]).unwrap_or(0) <= 30
                })
        });
        if !ok {
            return Some(42035);
        }
    }
    let task_id = card["task_id"].as_str().unwrap_or_default();
    if task_id.is_empty()
        || task_id.len() > 128
        || !task_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@'))
    {
        return Some(42014);
    }
    let Some(buttons) = card["button_list"]
        .as_array()
        .filter(|b| (1..=6).contains(&b.len()))
    else {
        return Some(40058);
    };
    let mut keys = HashSet::new();
    for b in buttons {
        match text(&b["text"]) {
            None | Some(0) => return Some(42020),
            Some(n) if n > 10 => return Some(42038),
            _ => {}
        }
        match b["key"].as_str() {
            None | Some("") => return Some(42017),
            Some(k) if k.len() > 1024 || !keys.insert(k.to_owned()) => return Some(42039),
            _ => {}
        }
        if b.get("style")
            .is_some_and(|st| !st.as_u64().is_some_and(|n| (1..=4).contains(&n)))
        {
            return Some(40058);
        }
    }
    None
}

/// `POST /cgi-bin/message/update_template_card` (docs/WECOM.md §7): the card of a single-use
/// response code, its buttons greyed out with `replace_name`.
pub(super) async fn update_card(
    State(st): State<FakeState>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let (_, agentid, v) = match authorised_post(&st, UPDATE_CARD, &q, &body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(code) = v.get("response_code").and_then(Value::as_str) else {
        return wecom_error(40058);
    };
    let userids: Option<Vec<String>> = match v.get("userids") {
        None => Some(Vec::new()),
        Some(Value::Array(a)) => a.iter().map(|u| u.as_str().map(str::to_owned)).collect(),
        Some(_) => None,
    };
    let Some(userids) = userids.filter(|u| u.len() <= 1000) else {
        return wecom_error(40058);
    };
    let replace_name = match v.pointer("/button/replace_name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => n.to_owned(),
        _ if v.get("template_card").is_some() => String::new(),
        _ => return wecom_error(42020),
    };
    st.with(|s| {
        if s.used_codes.contains(code) {
            return wecom_error(42022);
        }
        let Some((code_agent, task_id)) = s.response_codes.get(code).cloned() else {
            return wecom_error(60140);
        };
        if code_agent != agentid {
            return wecom_error(42015);
        }
        s.used_codes.insert(code.to_owned());
        s.card_updates.push(CardUpdate {
            agentid,
            task_id,
            userids,
            replace_name,
            response_code: code.to_owned(),
        });
        ok(json!({ "invaliduser": [] }))
    })
}

#[cfg(test)]
mod tests {
    use super::card_error;
    use serde_json::{Value, json};

    fn card() -> Value {
        json!({"card_type": "button_interaction", "main_title": {"title": "SQL review"},
               "task_id": "wn_1", "button_list": [{"text": "同意", "style": 1, "key": "approve"}]})
    }

    #[test]
    fn cards_are_checked_as_wecom_checks_them() {
        assert_eq!(card_error(&card()), None);
        let cases: [(&str, Value, i64); 8] = [
            ("card_type", json!("text_notice"), 42031),
            ("task_id", json!("has space"), 42014),
            ("task_id", json!("t".repeat(129)), 42014),
            ("main_title", json!({"title": "标".repeat(37)}), 40058),
            ("button_list", json!([]), 40058),
            (
                "button_list",
                json!([{"text": "一二三四五六七八九十一", "key": "a"}]),
                42038,
            ),
            (
                "button_list",
                json!([{"text": "A", "key": "a"}, {"text": "B", "key": "a"}]),
                42039,
            ),
            (
                "horizontal_content_list",
                json!([{"keyname": "六个字的名字", "value": "v"}]),
                42035,
            ),
        ];
        for (field, value, code) in cases {
            let mut c = card();
            c[field] = value.clone();
            assert_eq!(card_error(&c), Some(code), "{field}: {value}");
        }
    }
}
