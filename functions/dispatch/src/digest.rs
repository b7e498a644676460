//! A digest: the messages that waited for one member's pace window, combined into one text
//! message when the window opens, so a burst costs the member one slot (and one buzz) instead
//! of a queue drained one message at a time.
//!
//! The wording comes from the catalogues (`digest.header`, `digest.more`) in both languages
//! at once, Chinese first: a delivery knows no reader's language, and WeCom's members read
//! mostly Chinese. The items are each message's title and link, newest first, as many as fit
//! WeCom's 2,048 bytes of text; the rest are counted. The last line is a reference unique to
//! the set of deliveries, so WeCom's duplicate check only ever drops a repeat of this very
//! digest.

use shared::i18n::{Lang, text_in};
use shared::wecom::MessageBody;
use shared::wecom::message::{TEXT_MAX, truncate_bytes};
use shared::workflow::Delivery;

/// A title longer than this is cut in the digest: the list is for recognising messages.
const TITLE_MAX: usize = 120;

/// The title and link of a message as it was rendered for the member.
fn headline(body: Option<&MessageBody>) -> (String, Option<String>) {
    let is_link = |l: &str| l.starts_with("https://") || l.starts_with("http://");
    match body {
        Some(MessageBody::TextCard { title, url, .. }) => (title.clone(), Some(url.clone())),
        // `title`, the content, the link and `Ref: …`, a line each (`WorkflowEvent::render`).
        Some(MessageBody::Text { content }) => {
            let title = content.lines().next().unwrap_or_default().to_owned();
            let lines: Vec<&str> = content.lines().skip(1).collect();
            let link = lines.into_iter().rfind(|l| is_link(l));
            (title, link.map(str::to_owned))
        }
        // `**title**`, the content and `[Open](link)`.
        Some(MessageBody::Markdown { content }) => {
            let first = content.lines().next().unwrap_or_default();
            let title = first.trim_start_matches("**").trim_end_matches("**");
            let lines: Vec<&str> = content.lines().skip(1).collect();
            let link = lines.into_iter().rev().find_map(|l| {
                let (_, rest) = l.rsplit_once("](")?;
                rest.strip_suffix(')').filter(|u| is_link(u))
            });
            (title.to_owned(), link.map(str::to_owned))
        }
        Some(MessageBody::TemplateCard(_)) | None => (String::new(), None),
    }
}

/// The catalogue text `key` in Chinese and in English, one line.
fn both(key: &str, count: usize) -> String {
    let n = count.to_string();
    let args = [("count", n.as_str())];
    format!(
        "{} · {}",
        text_in(Lang::ZhCn, key, &args),
        text_in(Lang::En, key, &args)
    )
}

/// A stable reference of the set of deliveries (FNV-1a over their sorted keys): the same
/// set always gives the same digest text, two sets never the same reference.
fn reference(deliveries: &[&Delivery]) -> String {
    let mut keys: Vec<String> = deliveries
        .iter()
        .map(|d| {
            format!(
                "{}\u{1f}{}\u{1f}{}",
                d.event_id,
                d.member,
                d.key_suffix().unwrap_or_default()
            )
        })
        .collect();
    keys.sort_unstable();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in keys.join("\u{1e}").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("Ref: digest-{h:016x}")
}

/// The digest of `deliveries` (one member's): a text message within WeCom's limit.
pub(crate) fn render(deliveries: &[&Delivery]) -> MessageBody {
    let mut newest_first: Vec<&Delivery> = deliveries.to_vec();
    newest_first.sort_by(|a, b| {
        (b.created_ms, &b.event_id, b.round).cmp(&(a.created_ms, &a.event_id, a.round))
    });
    let header = both("digest.header", deliveries.len());
    let reference = reference(deliveries);
    let mut items: Vec<String> = Vec::new();
    let mut used = header.len() + 1 + reference.len();
    for (i, d) in newest_first.iter().enumerate() {
        let (title, link) = headline(d.body.as_ref());
        let title = truncate_bytes(title.trim(), TITLE_MAX);
        let mut item = format!("{}. {title}", i + 1);
        if let Some(link) = link {
            item.push('\n');
            item.push_str(&link);
        }
        let rest = newest_first.len() - i - 1;
        // Room for this item, and for the "and N more" line should any follow.
        let more = if rest > 0 {
            both("digest.more", rest).len() + 1
        } else {
            0
        };
        if used + item.len() + 1 + more > TEXT_MAX {
            break;
        }
        used += item.len() + 1;
        items.push(item);
    }
    let mut lines = vec![header];
    let listed = items.len();
    lines.extend(items);
    if listed < newest_first.len() {
        lines.push(both("digest.more", newest_first.len() - listed));
    }
    lines.push(reference);
    MessageBody::text(&lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::workflow::{MessageFormat, WorkflowEvent};

    fn delivery(i: usize, title: &str, format: MessageFormat) -> Delivery {
        let ev = WorkflowEvent::from_detail(&json!({"event_id": format!("e{i}"), "org": "acme",
            "subscription_type": "t", "node": "n", "recipients": ["alice"], "title": title,
            "content": "body", "url": format!("https://example.com/r/{i}"),
            "occurred_at": "2026-03-11T08:00:00Z"}))
        .expect("event");
        let body = ev.render(format);
        Delivery::claim(&ev, "alice".into(), body, 1_000 + i as i64, 2_000, 99)
    }

    fn content(b: &MessageBody) -> &str {
        match b {
            MessageBody::Text { content } => content,
            _ => panic!("a digest is text"),
        }
    }

    #[test]
    fn lists_titles_and_links_newest_first_from_every_format() {
        let ds = [
            delivery(1, "Old", MessageFormat::Text),
            delivery(2, "Middle", MessageFormat::Markdown),
            delivery(3, "New", MessageFormat::Textcard),
        ];
        let refs: Vec<&Delivery> = ds.iter().collect();
        let body = render(&refs);
        let text = content(&body);
        let expected_items = "1. New\nhttps://example.com/r/3\n2. Middle\nhttps://example.com/r/2\n3. Old\nhttps://example.com/r/1\n";
        assert!(text.contains(expected_items), "{text}");
        assert!(text.starts_with("3 "), "{text}");
        assert!(
            text.lines()
                .last()
                .is_some_and(|l| l.starts_with("Ref: digest-"))
        );
        // The same set in another order is the same digest; another set is another.
        let reversed: Vec<&Delivery> = ds.iter().rev().collect();
        assert_eq!(render(&reversed), body);
        assert_ne!(render(&refs[..2]), body);
    }

    #[test]
    fn a_long_list_is_cut_to_wecoms_limit_and_counts_the_rest() {
        let ds: Vec<Delivery> = (0..100)
            .map(|i| delivery(i, &"长标题".repeat(30), MessageFormat::Text))
            .collect();
        let refs: Vec<&Delivery> = ds.iter().collect();
        let body = render(&refs);
        let text = content(&body);
        assert!(text.len() <= TEXT_MAX, "{}", text.len());
        let listed = text.lines().filter(|l| l.starts_with("https://")).count();
        assert!(listed > 3 && listed < 100, "{listed}");
        let more = both("digest.more", 100 - listed);
        assert!(text.contains(&more), "{text}");
        assert!(text.ends_with(&reference(&refs)));
    }
}
