//! Reading a write-sharded index partition (`Segment::across`) as one: a lazy k-way merge
//! of its partitions in key order, which reads about the page and not a page per shard.
//!
//! Each partition is asked for its share of what is missing; entries are taken in key
//! order while it is certain that no partition holds an earlier one (a partition whose
//! entries read so far are all taken, and which has more, proves nothing past the last
//! key it read); a partition that runs dry before the page is full is asked again, for
//! its share of what is still missing. The items read beyond the page are at most the
//! last share asked of each partition, the same at any tenant size.

use std::collections::VecDeque;

use oms_domain::error::Error;

use super::keys::{PK, SK};
use super::reads::{Filter, Segment};
use super::{av_s, DynamoStore, Item};

/// A merged read asks its partitions at most this many times (each time only the ones that
/// ran dry), then returns what it could order; the caller continues from where it stopped.
///
/// What the asks below cost, simulated for pages of 25 over 4 partitions of randomly
/// placed entries (the least possible is 28: the page, and one entry past it from each
/// other partition): asking each its full share every round read 31.6 entries on average
/// in 6.3 requests; these asks read 28.9 on average (at worst 35) in 9.9 requests (at
/// worst 15). Four rounds restarted pages too often (41 entries at worst).
const MERGE_ROUNDS: usize = 8;

/// One partition of the merge: the entries read and not yet taken, where its next `Query`
/// starts, and whether it has more.
struct Part {
    seg: Segment,
    buffer: VecDeque<Item>,
    next: Option<Item>,
    queried: bool,
    done: bool,
}

impl Part {
    /// Read everything taken, with more to read: nothing after `next` is known yet.
    fn dry(&self) -> bool {
        !self.done && self.buffer.is_empty()
    }
}

impl DynamoStore {
    /// Up to `limit` entries of a write-sharded segment from `start` (the page token's key,
    /// moved into each partition), in key order, and where the next call resumes (`None`:
    /// every partition is read to its end), and the entries DynamoDB examined. With a
    /// filter, `limit` is also the number of entries to examine, as with one `Query`.
    /// Nothing is skipped or repeated: the resume point is the last entry returned, or
    /// the nearest key up to which every partition has been read.
    pub(super) async fn query_merged(
        &self,
        seg: &Segment,
        start: Option<Item>,
        limit: i32,
        forward: bool,
        filter: &Filter,
        projection: Option<&str>,
    ) -> Result<(Vec<Item>, Option<Item>, usize), Error> {
        let want = usize::try_from(limit).unwrap_or(0).max(1);
        let filtered = !filter.is_empty();
        // Merging needs each entry's position, whatever else is asked for.
        let projection = projection.map(|p| {
            let mut fields: Vec<&str> = p.split(',').map(str::trim).collect();
            for needed in [PK, SK, "#sk"] {
                if !fields.contains(&needed) {
                    fields.push(needed);
                }
            }
            fields.join(", ")
        });
        let projection = projection.as_deref();
        let mut parts: Vec<Part> = seg
            .partitions()
            .into_iter()
            .map(|p| Part {
                next: start.clone().map(|mut key| {
                    key.insert(p.pk_attr.to_owned(), av_s(p.pk.clone()));
                    key
                }),
                seg: p,
                buffer: VecDeque::new(),
                queried: false,
                done: false,
            })
            .collect();
        // `a` comes no later than `b` in the read's direction.
        let before = |a: &Item, b: &Item| match forward {
            true => seg.position(a) <= seg.position(b),
            false => seg.position(a) >= seg.position(b),
        };
        let mut taken: Vec<Item> = Vec::new();
        let mut scanned = 0usize;
        let mut rounds = 0;
        loop {
            // Take entries in order while no dry partition could hold an earlier one.
            while taken.len() < want {
                let head = parts
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| p.buffer.front().map(|item| (i, item)))
                    .reduce(|a, b| if before(a.1, b.1) { a } else { b })
                    .map(|(i, _)| i);
                let Some(i) = head else { break };
                let safe = parts.iter().filter(|p| p.dry()).all(|p| match (&p.next, p.queried) {
                    (Some(last), true) => parts[i].buffer.front().is_some_and(|h| before(h, last)),
                    _ => false,
                });
                if !safe {
                    break;
                }
                if let Some(item) = parts[i].buffer.pop_front() {
                    taken.push(item);
                }
            }
            let live = parts.iter().filter(|p| !p.done).count();
            let dry: Vec<usize> = (0..parts.len()).filter(|&i| parts[i].dry()).collect();
            if taken.len() == want || dry.is_empty() || rounds == MERGE_ROUNDS || (filtered && scanned >= want) {
                break;
            }
            // Each partition that ran dry is asked for about its share of what is still
            // missing, a little less (what is read past the page is waste, and it varies
            // with how the entries fall on the partitions): four fifths of its share at
            // first, then a share as if there were two partitions more. A filtered read
            // spends its budget of entries to examine, its share each time.
            let live = live.max(1);
            let ask = match (filtered, rounds) {
                (true, _) => (want - scanned).div_ceil(live),
                (false, 0) => (want - taken.len()) * 4 / (5 * live),
                (false, _) => (want - taken.len()).div_ceil(live + 2),
            };
            let ask = i32::try_from(ask.max(1)).unwrap_or(i32::MAX);
            let queries = dry.iter().map(|&i| {
                let p = &parts[i];
                self.query_page(&p.seg, p.next.clone(), ask, forward, filter, projection)
            });
            let pages = futures_util::future::try_join_all(queries).await?;
            for (i, (items, last, n)) in dry.into_iter().zip(pages) {
                let p = &mut parts[i];
                scanned += n;
                p.buffer.extend(items);
                p.queried = true;
                p.done = last.is_none();
                p.next = last;
            }
            rounds += 1;
        }
        let resume = match taken.len() == want {
            true => taken.last().map(|i| seg.key_of(i)),
            // Every entry up to the nearest key a dry partition stopped at has been taken.
            false => parts
                .iter()
                .filter(|p| p.dry())
                .filter_map(|p| p.next.clone())
                .reduce(|a, b| if before(&a, &b) { a } else { b }),
        };
        Ok((taken, resume, scanned))
    }
}
