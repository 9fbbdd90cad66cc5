//! A backup's rows (COPY text format, as `COPY … TO` writes them with
//! `DateStyle = ISO`) turned into COPY's binary format on the client, so
//! that the server skips parsing timestamps, booleans and escapes while it
//! loads them (`db restore`, `db verify`, `db restore --append`).
//!
//! Only what a backup holds is accepted: `\N`, the escapes COPY writes
//! (and the octal and hex ones COPY reads), `t`/`f`, integers, and
//! timestamps as `YYYY-MM-DD HH:MM:SS[.ffffff][ BC]`, `infinity` and
//! `-infinity` (years of more than four digits too, and the `+YYYYY` /
//! `-YYYY` years `db purge --archive` writes outside 1–9999). Anything else
//! is a row no backup wrote (its checksum fails too): the restore stops
//! naming the line, as the server would have.

/// The type of a column, as the binary format encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int4,
    Text,
    Bool,
    Timestamp,
}

/// `users (id, email, name, created_at, updated_at)`.
pub const USERS: &[Kind] = &[
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Timestamp,
    Kind::Timestamp,
];
/// `tasks (id, title, description, completed, user_id, created_at, updated_at)`.
pub const TASKS: &[Kind] = &[
    Kind::Int4,
    Kind::Text,
    Kind::Text,
    Kind::Bool,
    Kind::Text,
    Kind::Timestamp,
    Kind::Timestamp,
];

/// The binary format's header (signature, flags, extension length) and
/// trailer (a field count of -1).
pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
pub const TRAILER: &[u8] = &[0xff, 0xff];

/// 2000-01-01, PostgreSQL's epoch, in days since 1970-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Appends the binary tuple of one row line (its newline included) to
/// `out`; `Err` says what is wrong with the line.
pub fn tuple(line: &[u8], kinds: &[Kind], out: &mut Vec<u8>) -> Result<(), String> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    out.extend_from_slice(&(kinds.len() as i16).to_be_bytes());
    let mut fields = Fields(Some(line));
    for (n, kind) in kinds.iter().enumerate() {
        let field = fields
            .next()
            .ok_or_else(|| format!("{} fields where {} belong", n, kinds.len()))?;
        if field == b"\\N" {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            continue;
        }
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        let value = match kind {
            Kind::Text => unescape(field, out),
            Kind::Int4 => int4(field).map(|v| out.extend_from_slice(&v.to_be_bytes())),
            Kind::Bool => match field {
                b"t" | b"f" => {
                    out.push(u8::from(field == b"t"));
                    Ok(())
                }
                _ => Err(()),
            },
            Kind::Timestamp => timestamp(field).map(|v| out.extend_from_slice(&v.to_be_bytes())),
        };
        value.map_err(|()| {
            format!(
                "field {} is not a {} ({:?})",
                n + 1,
                kind.name(),
                String::from_utf8_lossy(&field[..field.len().min(40)])
            )
        })?;
        let len = (out.len() - start - 4) as i32;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }
    if fields.next().is_some() {
        return Err(format!("more than {} fields", kinds.len()));
    }
    Ok(())
}

/// A row line's tab-separated fields (found with `memchr`: the client's
/// share of a restore is CPU-bound, docs/performance.md).
struct Fields<'a>(Option<&'a [u8]>);

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.0?;
        match memchr::memchr(b'\t', rest) {
            Some(tab) => {
                self.0 = Some(&rest[tab + 1..]);
                Some(&rest[..tab])
            }
            None => {
                self.0 = None;
                Some(rest)
            }
        }
    }
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Int4 => "whole number",
            Kind::Text => "text",
            Kind::Bool => "boolean (t or f)",
            Kind::Timestamp => "timestamp",
        }
    }
}

/// COPY text's escapes undone: `\b \f \n \r \t \v \\`, `\ooo` (octal),
/// `\xhh` (hex); any other escaped byte stands for itself.
fn unescape(field: &[u8], out: &mut Vec<u8>) -> Result<(), ()> {
    let mut i = 0;
    while i < field.len() {
        // Plain bytes up to the next backslash, at once.
        let Some(at) = memchr::memchr(b'\\', &field[i..]) else {
            out.extend_from_slice(&field[i..]);
            break;
        };
        out.extend_from_slice(&field[i..i + at]);
        i += at + 1;
        let Some(&c) = field.get(i) else {
            return Err(());
        };
        i += 1;
        match c {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                for _ in 0..2 {
                    match field.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            b'x' if field.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                let mut v = 0u32;
                for _ in 0..2 {
                    match field.get(i).and_then(|d| (*d as char).to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d;
                            i += 1;
                        }
                        None => break,
                    }
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    // The server checks the encoding of what it receives either way.
    Ok(())
}

fn int4(field: &[u8]) -> Result<i32, ()> {
    std::str::from_utf8(field)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(())
}

/// A timestamp's text → microseconds since 2000-01-01 (the binary value).
pub(super) fn timestamp(field: &[u8]) -> Result<i64, ()> {
    match field {
        b"infinity" => return Ok(i64::MAX),
        b"-infinity" => return Ok(i64::MIN),
        _ => {}
    }
    let (field, bc) = match field.strip_suffix(b" BC") {
        Some(rest) => (rest, true),
        None => (field, false),
    };
    let (sign, field) = match field.first() {
        Some(b'+') => (1, &field[1..]),
        Some(b'-') if !bc => (-1, &field[1..]),
        _ => (1, field),
    };
    let dash = field.iter().position(|b| *b == b'-').ok_or(())?;
    let (year, rest) = (digits(&field[..dash])?, &field[dash..]);
    if dash < 4 || rest.len() < 15 || rest[0] != b'-' || rest[3] != b'-' || rest[6] != b' ' {
        return Err(());
    }
    if rest[9] != b':' || rest[12] != b':' {
        return Err(());
    }
    let month = digits(&rest[1..3])?;
    let day = digits(&rest[4..6])?;
    let (hour, minute, second) = (
        digits(&rest[7..9])?,
        digits(&rest[10..12])?,
        digits(&rest[13..15])?,
    );
    let mut micros = 0;
    match &rest[15..] {
        [] => {}
        [b'.', frac @ ..] if (1..=6).contains(&frac.len()) => {
            micros = digits(frac)? * 10i64.pow(6 - frac.len() as u32);
        }
        _ => return Err(()),
    }
    // The proleptic Gregorian year: 1 BC is year 0.
    let year = if bc { 1 - year } else { sign * year };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(());
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(());
    }
    let days = days_from_civil(year, month, day) - PG_EPOCH_DAYS;
    let seconds = hour * 3600 + minute * 60 + second;
    days.checked_mul(MICROS_PER_DAY)
        .and_then(|d| d.checked_add(seconds * 1_000_000 + micros))
        .ok_or(())
}

/// ASCII digits as a number (at most 12 of them).
fn digits(field: &[u8]) -> Result<i64, ()> {
    if field.is_empty() || field.len() > 12 || !field.iter().all(u8::is_ascii_digit) {
        return Err(());
    }
    Ok(field.iter().fold(0, |v, d| v * 10 + i64::from(d - b'0')))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (any year).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Result<i64, ()> {
        timestamp(text.as_bytes())
    }

    #[test]
    fn timestamps_as_postgresql_counts_them() {
        assert_eq!(ts("2000-01-01 00:00:00"), Ok(0));
        assert_eq!(ts("2000-01-01 00:00:00.5"), Ok(500_000));
        assert_eq!(ts("1999-12-31 23:59:59.999999"), Ok(-1));
        assert_eq!(
            ts("1970-01-01 00:00:00"),
            Ok(-PG_EPOCH_DAYS * MICROS_PER_DAY)
        );
        // chrono agrees on every day of a leap year and a century.
        let epoch = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        for (y, m, d) in [
            (2024, 2, 29),
            (1900, 3, 1),
            (2100, 12, 31),
            (1, 1, 1),
            (9999, 12, 31),
        ] {
            let date = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
            let moment = date.and_hms_micro_opt(13, 14, 15, 16).unwrap();
            let expected = (moment - epoch).num_microseconds().unwrap();
            let text = moment.format("%Y-%m-%d %H:%M:%S%.f").to_string();
            assert_eq!(ts(&text), Ok(expected), "{text}");
        }
        // 1 BC is the proleptic year 0; chrono writes it as 0000 and
        // negative years with a sign, PostgreSQL with " BC".
        assert_eq!(ts("0001-01-01 00:00:00 BC"), ts("0000-01-01 00:00:00"));
        assert_eq!(ts("0002-06-01 00:00:00 BC"), ts("-0001-06-01 00:00:00"));
        assert_eq!(ts("10000-01-01 00:00:00"), ts("+10000-01-01 00:00:00"));
        assert_eq!(ts("infinity"), Ok(i64::MAX));
        assert_eq!(ts("-infinity"), Ok(i64::MIN));
    }

    #[test]
    fn what_no_backup_writes_is_refused() {
        for bad in [
            "",
            "2024-02-30 00:00:00",
            "2023-02-29 00:00:00",
            "2024-13-01 00:00:00",
            "2024-01-01 24:00:00",
            "2024-01-01 00:60:00",
            "2024-01-01T00:00:00",
            "2024-01-01 00:00:00.1234567",
            "2024-01-01 00:00:00+02",
            "24-01-01 00:00:00",
            "now",
        ] {
            assert_eq!(ts(bad), Err(()), "{bad:?}");
        }
        let mut out = Vec::new();
        assert!(tuple(b"1\tx\n", TASKS, &mut out).is_err());
        assert!(tuple(b"x\ta\t\\N\tt\tu\t\\N\t\\N\n", TASKS, &mut out).is_err());
        assert!(tuple(b"1\ta\t\\N\tyes\tu\t\\N\t\\N\n", TASKS, &mut out).is_err());
        assert!(tuple(b"1\ta\t\\N\tt\tu\t\\N\t\\N\textra\n", TASKS, &mut out).is_err());
    }

    #[test]
    fn a_task_row_becomes_its_tuple() {
        let mut out = Vec::new();
        tuple(
            b"7\ta\\tb\\\\c\\n\t\\N\tt\tu-1\t2000-01-01 00:00:01\t\\N\n",
            TASKS,
            &mut out,
        )
        .unwrap();
        let mut expected = 7i16.to_be_bytes().to_vec();
        let field = |e: &mut Vec<u8>, bytes: &[u8]| {
            e.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
            e.extend_from_slice(bytes);
        };
        field(&mut expected, &7i32.to_be_bytes());
        field(&mut expected, b"a\tb\\c\n");
        expected.extend_from_slice(&(-1i32).to_be_bytes());
        field(&mut expected, &[1]);
        field(&mut expected, b"u-1");
        field(&mut expected, &1_000_000i64.to_be_bytes());
        expected.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(out, expected);
    }

    #[test]
    fn escapes_as_copy_reads_them() {
        let mut out = Vec::new();
        unescape(b"\\b\\f\\v\\101\\x41\\x4a\\q\\\\", &mut out).unwrap();
        assert_eq!(out, b"\x08\x0c\x0bAAJq\\");
        assert!(unescape(b"ends with \\", &mut Vec::new()).is_err());
    }
}
