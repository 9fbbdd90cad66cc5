//! Deterministic sample data for `db seed` (SPEC §6): realistic titles and
//! descriptions, a mix of done and pending, timestamps in the fixed 8-week
//! window ending 2026-01-01T00:00:00Z. Everything for seed user N comes from
//! a generator seeded with (seed, N), so a user's rows do not depend on which
//! other users exist. Rows are written in COPY's binary format.

use std::io::{self, Write};

/// 2026-01-01T00:00:00Z as Unix seconds.
pub const WINDOW_END: i64 = 1_767_225_600;
/// Eight weeks.
pub const WINDOW_SECS: i64 = 56 * 86_400;

/// `seed-user-N@seed.example`.
pub fn email(n: u64) -> String {
    format!("seed-user-{n}@seed.example")
}

/// The id of seed user N.
pub fn user_id(n: u64) -> String {
    format!("seed-user-{n}")
}

/// Parses N back from a seed email.
pub fn number(email: &str) -> Option<u64> {
    email
        .strip_prefix("seed-user-")?
        .strip_suffix("@seed.example")?
        .parse()
        .ok()
        .filter(|n| *n > 0)
}

/// splitmix64: small, fast, and the same everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, user: u64) -> Rng {
        let mut rng = Rng(seed ^ user.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.next_u64();
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const TITLES: &[&str] = &[
    "Buy groceries for the week",
    "Call the dentist to reschedule",
    "Review pull request #{n}",
    "Fix flaky test in checkout flow",
    "Write the quarterly report",
    "Book flights to Lisbon",
    "Renew car insurance",
    "Pay the electricity bill",
    "Prepare slides for Monday's standup",
    "Clean out the garage",
    "Reply to Sam about the offsite",
    "Update the onboarding docs",
    "Plan meals for next week",
    "Return library books",
    "Schedule a 1:1 with Alex",
    "Investigate bug #{n} in invoices",
    "Order a birthday gift for Mum",
    "Back up the photo library",
    "Draft the blog post on caching",
    "Cancel the unused gym membership",
    "Water the plants",
    "Read two chapters of the design book",
    "Set up CI for the new service",
    "File the expense report",
    "Pick up dry cleaning",
    "Migrate the staging database",
    "Send the invoice to ACME",
    "Replace the bike's brake pads",
    "Go for a 5 km run",
    "Organise the team retro",
];

const DESCRIPTIONS: &[&str] = &[
    "Check the shared calendar first.",
    "Ask Jordan for the latest numbers before starting.",
    "Low priority, but do it before the end of the month.",
    "Follow up by email if there is no answer by Friday.",
    "Needs the receipts from the last trip.",
    "Blocked until the design review is done.",
    "Remember to bring the reference number.",
    "Split into smaller steps if it takes more than an hour.",
    "Use the template in the team drive.",
    "Quick one: fifteen minutes at most.",
];

const FIRST: &[&str] = &[
    "Ada", "Ben", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Inès", "Jonas", "Kemi",
    "Luis", "Maya", "Nils", "Olga", "Priya",
];
const LAST: &[&str] = &[
    "Lovelace", "Okafor", "Martin", "Ivanov", "Schmidt", "Haddad", "Hopper", "Tanaka", "Moreau",
    "Berg", "Adeyemi", "García", "Patel", "Nilsson", "Kowalski", "Rossi",
];

/// 2000-01-01T00:00:00Z, PostgreSQL's epoch, in Unix microseconds.
const PG_EPOCH_MICROS: i64 = 946_684_800 * 1_000_000;

fn field(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    out.write_all(&(bytes.len() as i32).to_be_bytes())?;
    out.write_all(bytes)
}

fn null(out: &mut impl Write) -> io::Result<()> {
    out.write_all(&(-1i32).to_be_bytes())
}

/// A `timestamp` value: microseconds since 2000-01-01.
fn timestamp(out: &mut impl Write, unix_micros: i64) -> io::Result<()> {
    field(out, &(unix_micros - PG_EPOCH_MICROS).to_be_bytes())
}

/// A moment in the window, in Unix microseconds.
fn in_window(rng: &mut Rng) -> i64 {
    let start = (WINDOW_END - WINDOW_SECS) * 1_000_000;
    start + rng.below((WINDOW_SECS * 1_000_000) as u64) as i64
}

/// Seed user N's row: id, email, name, created_at = updated_at (Unix µs).
pub fn user(seed: u64, n: u64) -> (String, String, String, i64) {
    let mut rng = Rng::new(seed, n);
    let created = in_window(&mut rng).min((WINDOW_END - WINDOW_SECS / 2) * 1_000_000);
    let name = format!("{} {}", rng.pick(FIRST), rng.pick(LAST));
    (user_id(n), email(n), name, created)
}

/// Writes seed user N as a binary COPY tuple of (id, email, name,
/// created_at, updated_at).
pub fn write_user(out: &mut impl Write, seed: u64, n: u64) -> io::Result<()> {
    let (id, email, name, created) = user(seed, n);
    out.write_all(&5i16.to_be_bytes())?;
    field(out, id.as_bytes())?;
    field(out, email.as_bytes())?;
    field(out, name.as_bytes())?;
    timestamp(out, created)?;
    timestamp(out, created)
}

/// One generated task (timestamps in Unix microseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub created: i64,
    pub updated: i64,
}

/// The `count` tasks of seed user N.
pub fn tasks(seed: u64, n: u64, count: u64) -> impl Iterator<Item = TaskRow> {
    // A stream of its own, apart from the user's row.
    let mut rng = Rng::new(seed ^ 0x7461_736b, n);
    (0..count).map(move |_| {
        let template = rng.pick(TITLES);
        let title = if template.contains("{n}") {
            template.replace("{n}", &(rng.below(900) + 100).to_string())
        } else {
            template.to_string()
        };
        let description = match rng.below(10) {
            0..=4 => None,
            5..=8 => Some(rng.pick(DESCRIPTIONS).to_string()),
            _ => Some(format!(
                "{}\n{}",
                rng.pick(DESCRIPTIONS),
                rng.pick(DESCRIPTIONS)
            )),
        };
        let completed = rng.below(100) < 40;
        let created = in_window(&mut rng);
        let updated = if completed || rng.below(100) < 30 {
            created + rng.below((WINDOW_END * 1_000_000 - created) as u64) as i64
        } else {
            created
        };
        TaskRow {
            title,
            description,
            completed,
            created,
            updated,
        }
    })
}

/// Writes the `count` tasks of seed user N as binary COPY tuples of (title,
/// description, completed, user_id, created_at, updated_at).
pub fn write_tasks(out: &mut impl Write, seed: u64, n: u64, count: u64) -> io::Result<()> {
    let user = user_id(n);
    for t in tasks(seed, n, count) {
        out.write_all(&6i16.to_be_bytes())?;
        field(out, t.title.as_bytes())?;
        match &t.description {
            Some(d) => field(out, d.as_bytes())?,
            None => null(out)?,
        }
        field(out, &[u8::from(t.completed)])?;
        field(out, user.as_bytes())?;
        timestamp(out, t.created)?;
        timestamp(out, t.updated)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_rows_other_seed_other_rows() {
        let gen = |seed| tasks(seed, 7, 50).collect::<Vec<_>>();
        assert_eq!(gen(1), gen(1));
        assert_ne!(gen(1), gen(2));
        assert_eq!(user(1, 7), user(1, 7));
        let rows = gen(1);
        let start = (WINDOW_END - WINDOW_SECS) * 1_000_000;
        for t in &rows {
            assert!(
                t.created >= start && t.created < WINDOW_END * 1_000_000,
                "{t:?}"
            );
            assert!(
                t.updated >= t.created && t.updated < WINDOW_END * 1_000_000,
                "{t:?}"
            );
            assert!(!t.title.is_empty() && !t.title.contains('{'));
        }
        let done = rows.iter().filter(|t| t.completed).count();
        assert!(done > 5 && done < 45, "a mix of done and pending: {done}");
    }

    #[test]
    fn binary_tuples_are_framed() {
        let mut out = Vec::new();
        write_user(&mut out, 1, 3).unwrap();
        assert_eq!(&out[..2], &5i16.to_be_bytes());
        assert_eq!(&out[2..6], &(b"seed-user-3".len() as i32).to_be_bytes());
        assert_eq!(crate::backup_file::binary::HEADER.len(), 19);
        let mut out = Vec::new();
        timestamp(&mut out, PG_EPOCH_MICROS + 5).unwrap();
        assert_eq!(out, [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 5]);
    }

    #[test]
    fn seed_emails_round_trip() {
        assert_eq!(number(&email(42)), Some(42));
        assert_eq!(number("seed-user-0@seed.example"), None);
        assert_eq!(number("bob@seed.example"), None);
    }
}
