//! Deterministic sample data for `db seed` (SPEC §6): realistic titles and
//! descriptions, a mix of done and pending, timestamps in the fixed 8-week
//! window ending 2026-01-01T00:00:00Z. Everything for seed user N comes from
//! a generator seeded with (seed, N), so a user's rows do not depend on which
//! other users exist. Rows are written as COPY text.

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
    "Read chapter {n} of the design book",
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

/// A COPY text timestamp (`YYYY-MM-DD HH:MM:SS.ffffff`) for Unix
/// microseconds.
fn write_timestamp(out: &mut impl Write, micros: i64) -> io::Result<()> {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    write!(
        out,
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{frac:06}",
        tod / 3600,
        tod / 60 % 60,
        tod % 60
    )
}

/// A moment in the window, in Unix microseconds.
fn in_window(rng: &mut Rng) -> i64 {
    let start = (WINDOW_END - WINDOW_SECS) * 1_000_000;
    start + rng.below((WINDOW_SECS * 1_000_000) as u64) as i64
}

/// Writes seed user N as a COPY text line: id, email, name, created_at,
/// updated_at.
pub fn write_user(out: &mut impl Write, seed: u64, n: u64) -> io::Result<()> {
    let mut rng = Rng::new(seed, n);
    let created = in_window(&mut rng).min((WINDOW_END - WINDOW_SECS / 2) * 1_000_000);
    write!(
        out,
        "{}\t{}\t{} {}\t",
        user_id(n),
        email(n),
        rng.pick(FIRST),
        rng.pick(LAST)
    )?;
    write_timestamp(out, created)?;
    out.write_all(b"\t")?;
    write_timestamp(out, created)?;
    out.write_all(b"\n")
}

/// Writes the `count` tasks of seed user N as COPY text lines: title,
/// description, completed, user_id, created_at, updated_at.
pub fn write_tasks(out: &mut impl Write, seed: u64, n: u64, count: u64) -> io::Result<()> {
    // A stream of its own, so adding tasks per user keeps the user's row.
    let mut rng = Rng::new(seed ^ 0x7461_736b, n);
    let user = user_id(n);
    for _ in 0..count {
        let title = rng.pick(TITLES);
        if title.contains("{n}") {
            let number = (rng.below(900) + 100).to_string();
            out.write_all(title.replace("{n}", &number).as_bytes())?;
        } else {
            out.write_all(title.as_bytes())?;
        }
        out.write_all(b"\t")?;
        match rng.below(10) {
            0..=4 => out.write_all(b"\\N")?,
            5..=8 => out.write_all(rng.pick(DESCRIPTIONS).as_bytes())?,
            _ => write!(
                out,
                "{}\\n{}",
                rng.pick(DESCRIPTIONS),
                rng.pick(DESCRIPTIONS)
            )?,
        }
        let done = rng.below(100) < 40;
        let created = in_window(&mut rng);
        let updated = if done || rng.below(100) < 30 {
            created + rng.below((WINDOW_END * 1_000_000 - created) as u64) as i64
        } else {
            created
        };
        write!(out, "\t{}\t{user}\t", if done { 't' } else { 'f' })?;
        write_timestamp(out, created)?;
        out.write_all(b"\t")?;
        write_timestamp(out, updated)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_like_postgres() {
        let mut out = Vec::new();
        write_timestamp(&mut out, WINDOW_END * 1_000_000 - 1).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2025-12-31 23:59:59.999999"
        );
        let mut out = Vec::new();
        write_timestamp(&mut out, (951_782_400 + 3661) * 1_000_000 + 5).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2000-02-29 01:01:01.000005"
        );
    }

    #[test]
    fn same_seed_same_rows_other_seed_other_rows() {
        let gen = |seed| {
            let mut out = Vec::new();
            write_user(&mut out, seed, 7).unwrap();
            write_tasks(&mut out, seed, 7, 50).unwrap();
            out
        };
        assert_eq!(gen(1), gen(1));
        assert_ne!(gen(1), gen(2));
        let text = String::from_utf8(gen(1)).unwrap();
        assert_eq!(text.lines().count(), 51);
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 6, "{line}");
            assert_eq!(fields[3], "seed-user-7");
            assert!(
                fields[4] >= "2025-11-06" && fields[4] < "2026-01-01",
                "{line}"
            );
            assert!(fields[5] >= fields[4], "{line}");
        }
        let done = text.lines().filter(|l| l.contains("\tt\t")).count();
        assert!(done > 5 && done < 45, "a mix of done and pending: {done}");
    }

    #[test]
    fn seed_emails_round_trip() {
        assert_eq!(number(&email(42)), Some(42));
        assert_eq!(number("seed-user-0@seed.example"), None);
        assert_eq!(number("bob@seed.example"), None);
    }
}
