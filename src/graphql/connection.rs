//! Relay cursor connections over the upstreams' page-based lists.
//!
//! A cursor is an opaque offset. Every window is served from fixed-size
//! upstream pages (so pages are shared in the cache whatever `first` is), and a
//! window never spans more than two pages, fetched concurrently.

use std::future::Future;

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{Error, SimpleObject};
use base64::Engine as _;
use futures_util::future::try_join_all;

use super::error::bad_input;

const CURSOR_PREFIX: &str = "offset:";
/// Items a connection gives when the caller asks for neither `first` nor `last`.
pub const DEFAULT_COUNT: usize = 25;

/// Fields every connection carries beside its edges.
#[derive(SimpleObject)]
pub struct ListInfo {
    /// How many items the whole list holds; null where the upstream does not say.
    pub total_count: Option<i32>,
}

/// A position in a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offset(pub usize);

impl CursorType for Offset {
    type Error = String;

    fn decode_cursor(text: &str) -> Result<Self, Self::Error> {
        let bytes =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).map_err(|_| "not a cursor".to_string())?;
        let text = String::from_utf8(bytes).map_err(|_| "not a cursor".to_string())?;
        let offset = text.strip_prefix(CURSOR_PREFIX).and_then(|n| n.parse::<u32>().ok()).ok_or("not a cursor")?;
        Ok(Offset(offset as usize))
    }

    fn encode_cursor(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{}", self.0))
    }
}

/// The paging arguments as a caller gives them.
#[derive(Clone, Debug, Default)]
pub struct Args {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// Which items a caller wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    Forward {
        start: usize,
        count: usize,
    },
    /// The `count` items before `end`, or before the list's end when None.
    Backward {
        end: Option<usize>,
        count: usize,
    },
}

fn cursor(text: &Option<String>, name: &str) -> Result<Option<usize>, Error> {
    text.as_deref()
        .map(|t| {
            Offset::decode_cursor(t)
                .map(|o| o.0)
                .map_err(|_| bad_input(format!("`{name}` is not a cursor this API issued")))
        })
        .transpose()
}

fn count(value: Option<i32>, name: &str, max: usize) -> Result<Option<usize>, Error> {
    match value {
        None => Ok(None),
        Some(n) if n < 0 => Err(bad_input(format!("`{name}` cannot be negative"))),
        Some(n) if n as usize > max => Err(bad_input(format!("`{name}` is at most {max} on this list"))),
        Some(n) => Ok(Some(n as usize)),
    }
}

impl Args {
    /// Checks the arguments against the list's maximum and turns them into a window.
    pub fn window(&self, max: usize) -> Result<Window, Error> {
        let (first, last) = (count(self.first, "first", max)?, count(self.last, "last", max)?);
        let (after, before) = (cursor(&self.after, "after")?, cursor(&self.before, "before")?);
        match (first, last) {
            (Some(_), Some(_)) => Err(bad_input("give `first` or `last`, not both")),
            (_, None) if before.is_some() => Err(bad_input("`before` goes with `last`")),
            (None, Some(_)) if after.is_some() => Err(bad_input("`after` goes with `first`")),
            (None, Some(count)) => Ok(Window::Backward { end: before, count }),
            (first, None) => Ok(Window::Forward {
                start: after.map_or(0, |a| a + 1),
                count: first.unwrap_or(DEFAULT_COUNT.min(max)),
            }),
        }
    }
}

/// One upstream page: its items and, where the upstream says, the list's total
/// and how many items it puts on a page.
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: Option<usize>,
    pub per_page: Option<usize>,
    /// The number of the last page, where the upstream says (Pixieset's `meta.last_page`).
    pub last_page: Option<usize>,
}

impl<T> Page<T> {
    /// A Pixieset page, with what its `meta` says.
    pub fn of(meta: &crate::upstream::pixieset::wire::PageMeta, items: Vec<T>) -> Self {
        let count = |n: Option<i64>| n.and_then(|n| usize::try_from(n).ok());
        Self { items, total: count(meta.total), per_page: count(meta.per_page), last_page: count(meta.last_page) }
    }
}

/// The part of a list a window selected.
pub struct Slice<T> {
    pub items: Vec<(usize, T)>,
    pub has_previous: bool,
    pub has_next: bool,
    pub total: Option<usize>,
}

impl<T> Slice<T> {
    pub fn into_connection<N: async_graphql::OutputType>(
        self,
        node: impl Fn(T) -> N,
    ) -> Connection<Offset, N, ListInfo> {
        let total_count = self.total.and_then(|t| i32::try_from(t).ok());
        let mut connection =
            Connection::with_additional_fields(self.has_previous, self.has_next, ListInfo { total_count });
        connection.edges.extend(self.items.into_iter().map(|(offset, item)| Edge::new(Offset(offset), node(item))));
        connection
    }
}

/// Whether a list's pages say how long the list is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Total {
    Reported,
    Unknown,
}

/// Serves `window` from pages of `page_size` (1-based); `fetch` gets one page. A
/// server that puts another number of items on a page than planned for (and says so in
/// `per_page`) numbers its pages by its own size: the window is then served again by that.
pub async fn slice<T, F, Fut>(window: Window, page_size: usize, total: Total, fetch: F) -> Result<Slice<T>, Error>
where
    T: Clone,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<Page<T>, Error>>,
{
    match slice_by(window, page_size, total, &fetch).await? {
        Sliced::Done(slice) => Ok(slice),
        Sliced::Resized(actual) => match slice_by(window, actual, total, &fetch).await? {
            Sliced::Done(slice) => Ok(slice),
            Sliced::Resized(_) => Err(super::error::upstream_inconsistent("the page size changed between pages")),
        },
    }
}

enum Sliced<T> {
    Done(Slice<T>),
    /// The server's page holds this many items, not the number planned for.
    Resized(usize),
}

async fn slice_by<T, F, Fut>(window: Window, page_size: usize, total: Total, fetch: &F) -> Result<Sliced<T>, Error>
where
    T: Clone,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<Page<T>, Error>>,
{
    let (start, end, known_end) = match window {
        Window::Forward { start, count } => (start, start + count, false),
        Window::Backward { end: Some(end), count } => (end.saturating_sub(count), end, true),
        Window::Backward { end: None, count } => {
            let first = fetch(1).await?;
            let total = first
                .total
                .ok_or_else(|| bad_input("this list cannot be read from its end: give `before` with `last`"))?;
            (total.saturating_sub(count), total, true)
        }
    };
    // One item past the window says whether more follow when the upstream gives no total.
    let probe = if known_end || total == Total::Reported { end } else { end + 1 };
    let first_page = start / page_size + 1;
    let last_page = (probe.max(start + 1) - 1) / page_size + 1;
    let pages = try_join_all((first_page..=last_page).map(fetch)).await?;
    if let Some(actual) = pages.iter().filter_map(|p| p.per_page).find(|&n| n > 0 && n != page_size) {
        return Ok(Sliced::Resized(actual));
    }
    let reported = pages.iter().find_map(|p| p.total);
    let last_page = pages.iter().find_map(|p| p.last_page);
    let fetched_to = first_page - 1 + pages.len();
    let mut items = Vec::new();
    let mut beyond = false;
    for (n, page) in pages.into_iter().enumerate() {
        let base = (first_page - 1 + n) * page_size;
        for (i, item) in page.items.into_iter().enumerate() {
            let offset = base + i;
            if (start..end).contains(&offset) {
                items.push((offset, item));
            } else if offset >= end {
                beyond = true;
            }
        }
    }
    let has_next = match (reported, known_end) {
        (Some(total), _) => end < total,
        (None, true) => true,
        // Without a total, the upstream's last page says whether pages follow the ones read.
        (None, false) => beyond || last_page.is_some_and(|last| fetched_to < last),
    };
    Ok(Sliced::Done(Slice { items, has_previous: start > 0, has_next, total: reported }))
}

/// Whether a connection's selection asks for `field` of its nodes, under `edges.node` or `nodes`:
/// for a list whose upstream embeds that field only when asked.
pub fn selects_in_nodes(ctx: &async_graphql::Context<'_>, field: &str) -> bool {
    let look = ctx.look_ahead();
    look.field("edges").field("node").field(field).exists() || look.field("nodes").field(field).exists()
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    fn args(first: Option<i32>, after: Option<usize>, last: Option<i32>, before: Option<usize>) -> Args {
        Args {
            first,
            after: after.map(|a| Offset(a).encode_cursor()),
            last,
            before: before.map(|b| Offset(b).encode_cursor()),
        }
    }

    #[test]
    fn arguments_become_windows_or_typed_errors() {
        assert_eq!(args(None, None, None, None).window(100).unwrap(), Window::Forward { start: 0, count: 25 });
        assert_eq!(args(Some(10), Some(4), None, None).window(100).unwrap(), Window::Forward { start: 5, count: 10 });
        assert_eq!(
            args(None, None, Some(3), Some(9)).window(100).unwrap(),
            Window::Backward { end: Some(9), count: 3 }
        );
        for bad in [
            args(Some(101), None, None, None),
            args(Some(-1), None, None, None),
            args(Some(1), None, Some(1), None),
            args(Some(1), None, None, Some(3)),
        ] {
            assert!(bad.window(100).is_err());
        }
        let forged = Args { after: Some("b2Zmc2V0Oi0x".into()), ..Args::default() };
        assert!(forged.window(100).is_err());
        assert!(Args { after: Some("garbage!".into()), ..Args::default() }.window(100).is_err());
    }

    /// A list of `len` numbers served in pages, recording which pages were asked for.
    async fn run(window: Window, len: usize, page_size: usize, with_total: bool) -> (Slice<usize>, Vec<usize>) {
        let asked = RefCell::new(Vec::new());
        let total = if with_total { Total::Reported } else { Total::Unknown };
        let slice = slice(window, page_size, total, |page| {
            asked.borrow_mut().push(page);
            let start = (page - 1) * page_size;
            let items = (start..(start + page_size).min(len)).collect();
            async move { Ok(Page { items, total: with_total.then_some(len), per_page: None, last_page: None }) }
        })
        .await
        .unwrap();
        (slice, asked.into_inner())
    }

    fn offsets(slice: &Slice<usize>) -> Vec<usize> {
        slice.items.iter().map(|(o, _)| *o).collect()
    }

    #[tokio::test]
    async fn windows_span_at_most_two_pages() {
        let (s, pages) = run(Window::Forward { start: 0, count: 45 }, 45, 100, true).await;
        assert_eq!((offsets(&s).len(), s.has_next, s.has_previous, pages), (45, false, false, vec![1]));
        let (s, pages) = run(Window::Forward { start: 90, count: 20 }, 513, 100, true).await;
        assert_eq!((offsets(&s), s.has_next, pages), ((90..110).collect::<Vec<_>>(), true, vec![1, 2]));
        let (s, pages) = run(Window::Forward { start: 500, count: 100 }, 513, 100, true).await;
        assert_eq!((offsets(&s).len(), s.has_next, pages), (13, false, vec![6]));
        let (s, _) = run(Window::Forward { start: 900, count: 10 }, 513, 100, true).await;
        assert!(s.items.is_empty() && !s.has_next);
        let (s, pages) = run(Window::Forward { start: 0, count: 0 }, 513, 100, true).await;
        assert_eq!((s.items.len(), s.has_next, pages), (0, true, vec![1]));
    }

    #[tokio::test]
    async fn without_a_total_one_more_item_tells_whether_more_follow() {
        let (s, pages) = run(Window::Forward { start: 0, count: 100 }, 100, 100, false).await;
        assert_eq!((s.items.len(), s.has_next, pages), (100, false, vec![1, 2]));
        let (s, _) = run(Window::Forward { start: 0, count: 100 }, 101, 100, false).await;
        assert!(s.has_next);
        let (s, pages) = run(Window::Forward { start: 10, count: 49 }, 120, 50, false).await;
        assert_eq!((s.items.len(), s.has_next, pages), (49, true, vec![1, 2]));
    }

    #[tokio::test]
    async fn a_server_with_smaller_pages_than_asked_is_read_by_its_own() {
        // Asked for 100 a page, the server sends 30 and says so; its page 2 starts at item 30.
        let asked = RefCell::new(Vec::new());
        let served = |page: usize| {
            asked.borrow_mut().push(page);
            let start = (page - 1) * 30;
            let items: Vec<usize> = (start..(start + 30).min(100)).collect();
            async move { Ok(Page { items, total: Some(100), per_page: Some(30), last_page: None }) }
        };
        let s = slice(Window::Forward { start: 40, count: 25 }, 100, Total::Reported, served).await.unwrap();
        assert_eq!(offsets(&s), (40..65).collect::<Vec<_>>());
        assert_eq!(s.items.iter().map(|(_, item)| *item).collect::<Vec<_>>(), (40..65).collect::<Vec<_>>());
        assert_eq!(asked.into_inner(), vec![1, 2, 3], "page 1 as planned, then pages 2 and 3 of 30");
    }

    #[tokio::test]
    async fn backwards_from_a_cursor_or_the_end() {
        let (s, pages) = run(Window::Backward { end: Some(105), count: 10 }, 513, 100, true).await;
        assert_eq!(
            (offsets(&s), s.has_previous, s.has_next, pages),
            ((95..105).collect::<Vec<_>>(), true, true, vec![1, 2])
        );
        let (s, _) = run(Window::Backward { end: None, count: 5 }, 513, 100, true).await;
        assert_eq!((offsets(&s), s.has_next), ((508..513).collect::<Vec<_>>(), false));
        let (s, _) = run(Window::Backward { end: Some(3), count: 10 }, 513, 100, true).await;
        assert_eq!((offsets(&s), s.has_previous), (vec![0, 1, 2], false));
    }

    /// A server with its own page size, saying what its `meta` says: `per_page` and `last_page`
    /// when `paged`, `total` when `counted`.
    async fn served(window: Window, len: usize, server_page: usize, paged: bool, counted: bool) -> Slice<usize> {
        slice(window, 25, Total::Reported, |page| {
            let start = (page - 1) * server_page;
            let items: Vec<usize> = (start..(start + server_page).min(len)).collect();
            let last = len.div_ceil(server_page).max(1);
            let page = Page {
                items,
                total: counted.then_some(len),
                per_page: paged.then_some(server_page),
                last_page: paged.then_some(last),
            };
            async move { Ok(page) }
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn the_upstreams_paging_fields_decide_not_an_assumed_page_size() {
        // meta.last_page 2, no total: more follow the first 25.
        let s = served(Window::Forward { start: 0, count: 25 }, 40, 25, true, false).await;
        assert_eq!((offsets(&s), s.has_next), ((0..25).collect::<Vec<_>>(), true));
        let s = served(Window::Forward { start: 25, count: 25 }, 40, 25, true, false).await;
        assert_eq!((offsets(&s), s.has_next), ((25..40).collect::<Vec<_>>(), false));
        // A server page of 50 holding 30: the page after the first 25 holds the last 5.
        let s = served(Window::Forward { start: 25, count: 25 }, 30, 50, true, true).await;
        assert_eq!((offsets(&s), s.has_next, s.total), ((25..30).collect::<Vec<_>>(), false, Some(30)));
    }
}
