//! How results are written: the format chosen (SPEC §5) and the writers for
//! tables, plain lines and JSON. Every writer takes any `impl Write`.

pub mod admin;
pub mod backup;
pub mod export;
pub mod fields;
mod health;
mod lists;
pub mod ops;
pub mod pager;
pub mod progress;
mod records;
pub mod shape;
mod sink;
mod stats;
mod time;

use std::io::{IsTerminal, Write};

pub use lists::{write_export, write_tasks, write_users};
pub use records::{TaskRecord, UserRecord};
pub use sink::Sink;
pub use time::{relative, rfc3339};

use crate::error::Result;

/// How results are written (SPEC §5). `--format` is
/// [`crate::cli::FormatArg`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An aligned table with relative times
    Table,
    /// Tab-separated fields, one record per line, no header
    Plain,
    /// JSON
    Json,
    /// Prometheus text exposition (db health and db stats only)
    Prometheus,
}

/// When to use colour (`--color`, [`crate::cli::ColorArg`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// The output settings of one invocation.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub format: Format,
    pub quiet: bool,
    pub color: bool,
    /// `--json FIELDS` and `--jq` (see [`shape`]).
    pub shape: Option<&'static shape::Shape>,
}

impl Output {
    /// `format` as asked (else a table on a terminal, plain otherwise);
    /// colour only in tables, on a terminal, unless `NO_COLOR` or `never`.
    pub fn new(format: Option<Format>, quiet: bool, color: Color) -> Output {
        let tty = std::io::stdout().is_terminal();
        let format = format.unwrap_or(if tty { Format::Table } else { Format::Plain });
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => tty && !no_color,
        };
        Output {
            format,
            quiet,
            color: color && format == Format::Table,
            shape: None,
        }
    }
}

/// A result a command returns, in the three formats.
pub trait Render {
    fn json(&self) -> serde_json::Value;
    fn plain(&self, out: &mut dyn Write) -> Result<()>;
    fn table(&self, out: &mut dyn Write, color: bool) -> Result<()>;
    /// A remark that is part of the table, and goes to stderr with plain
    /// output (never into JSON).
    fn note(&self) -> Option<String> {
        None
    }
    /// What `-q` prints: the new id for `add` commands, else nothing.
    fn quiet(&self) -> Option<String> {
        None
    }
    /// The Prometheus text exposition, for results that have one.
    fn prometheus(&self) -> Option<String> {
        None
    }
}

/// Writes `item` in the chosen format (nothing under `-q`), and flushes.
/// Every command's single result goes through here.
pub fn emit(out: &mut impl Write, fmt: Output, item: &dyn Render) -> Result<()> {
    if fmt.quiet {
        if let Some(id) = item.quiet() {
            writeln!(out, "{id}")?;
            out.flush()?;
        }
        return Ok(());
    }
    match fmt.format {
        Format::Json => write_json(out, fmt, item.json())?,
        Format::Plain => {
            item.plain(out)?;
            if let Some(note) = item.note() {
                eprintln!("{note}");
            }
        }
        Format::Table => item.table(out, fmt.color)?,
        Format::Prometheus => match item.prometheus() {
            Some(text) => out.write_all(text.as_bytes())?,
            None => return Err(prometheus_unsupported()),
        },
    }
    out.flush()?;
    Ok(())
}

/// The error for `--format prometheus` with a command that has no metrics.
pub fn prometheus_unsupported() -> crate::error::Error {
    crate::error::Error::usage("--format prometheus is only for db health and db stats")
        .with_hint("use --format json, plain or table")
}

/// Writes one plain record: fields tab-separated, `None` as an empty field,
/// backslash, tab, newline and carriage return escaped as COPY text does.
pub fn plain_line(out: &mut (impl Write + ?Sized), fields: &[Option<&str>]) -> Result<()> {
    let mut line = String::new();
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            line.push('\t');
        }
        if let Some(value) = field {
            crate::text::copy_escape_into(&mut line, value);
        }
    }
    line.push('\n');
    out.write_all(line.as_bytes())?;
    Ok(())
}

/// Writes a command's JSON result, shaped by `--json FIELDS` and `--jq`.
pub fn write_json(out: &mut impl Write, fmt: Output, value: serde_json::Value) -> Result<()> {
    match fmt.shape {
        Some(shape) => shape.write_value(out, value),
        None => json_line(out, &value),
    }
}

/// Writes a JSON value and a newline.
pub fn json_line(out: &mut (impl Write + ?Sized), value: &impl serde::Serialize) -> Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// A comfy-table with the tool's style and a header.
pub fn table(header: &[&str], color: bool) -> comfy_table::Table {
    let mut table = plain_table(color);
    table
        .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header(header.iter().copied());
    table
}

/// A table cell holding text from the database: anything that could drive
/// the terminal (escape sequences, carriage returns, bidi overrides) is
/// shown escaped. Newlines stay in multi-line cells (`multi_line`).
pub fn data_cell(text: &str, multi_line: bool) -> comfy_table::Cell {
    comfy_table::Cell::new(crate::text::terminal_safe(text, multi_line))
}

/// A borderless two-column table for one record, colour as decided.
pub fn plain_table(color: bool) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    if color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_escapes_like_copy_text_and_leaves_null_empty() {
        let mut out = Vec::new();
        plain_line(&mut out, &[Some("a\tb\\c\nd\re"), None, Some("x")]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a\\tb\\\\c\\nd\\re\t\tx\n");
    }
}
