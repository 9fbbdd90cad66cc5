//! `--json FIELDS` and `--jq EXPR` (SPEC §19): which part of a command's
//! JSON is printed. Both are decided before the command runs: an unknown
//! field or a filter that does not parse is exit 2 before anything is sent
//! to the database.
//!
//! - `--json FIELD,FIELD` keeps those fields of the objects a command
//!   prints, in the order given (of each element of a list); a field an
//!   object lacks is `null`. `tasks.total` picks one field of a nested
//!   object (`user` commands' counts).
//! - `--jq EXPR` runs a jq filter (jaq, built in) on the JSON output, after
//!   the field selection, and prints each result as jq does: strings raw
//!   (as `jq -r`), anything else as indented JSON. A list is streamed
//!   through the filter element by element when the filter is `.[]`,
//!   `.[] | …` or `.[]` followed by a path (`.[].title`); any other filter
//!   sees the whole list, collected first. An error while filtering is
//!   exit 2 after what was printed so far.

use std::io::Write;

use jaq_core::load::{self, Arena, File, Loader};
use jaq_core::{data, Compiler, Ctx, Vars};
use jaq_json::Val;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Kind, Result};

/// The selection and filter of one invocation.
pub struct Shape {
    fields: Option<Vec<String>>,
    jq: Option<Jq>,
}

impl std::fmt::Debug for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shape")
            .field("fields", &self.fields)
            .field("jq", &self.jq.is_some())
            .finish()
    }
}

type Program = jaq_core::compile::Filter<jaq_core::Native<data::JustLut<Val>>>;

struct Jq {
    whole: Program,
    /// The filter to run on each element, when the whole one is `.[] | it`.
    each: Option<Program>,
}

impl Shape {
    /// The shape `--json FIELDS` (`fields`, checked against what the
    /// command prints: `available`) and `--jq` ask for; `None` when they
    /// ask for nothing but JSON.
    pub fn new(
        fields: Option<&str>,
        available: Option<&[&str]>,
        command: &str,
        jq: Option<&str>,
    ) -> Result<Option<Shape>> {
        let fields = match fields.filter(|f| !f.is_empty()) {
            None => None,
            Some(list) => Some(checked_fields(list, available, command)?),
        };
        let jq = jq.map(Jq::compile).transpose()?;
        if fields.is_none() && jq.is_none() {
            return Ok(None);
        }
        Ok(Some(Shape { fields, jq }))
    }

    /// Writes one JSON value (a command's single result).
    pub fn write_value(&self, out: &mut dyn Write, value: Value) -> Result<()> {
        let value = self.select(value);
        match &self.jq {
            None => super::json_line(out, &value),
            Some(jq) => jq.print(&jq.whole, value, out),
        }
    }

    /// Starts a list written element by element ([`List::push`]).
    pub fn list(&self, out: &mut dyn Write) -> Result<List<'_>> {
        let each = self.jq.as_ref().and_then(|jq| jq.each.as_ref());
        let collect = self.jq.is_some() && each.is_none();
        if self.jq.is_none() {
            out.write_all(b"[")?;
        }
        Ok(List {
            shape: self,
            each,
            collected: collect.then(Vec::new),
            n: 0,
        })
    }

    fn select(&self, value: Value) -> Value {
        let Some(fields) = &self.fields else {
            return value;
        };
        match value {
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|item| pick(fields, item)).collect())
            }
            other => pick(fields, other),
        }
    }
}

/// A list being written through a [`Shape`].
pub struct List<'a> {
    shape: &'a Shape,
    each: Option<&'a Program>,
    /// The elements, when the filter needs the whole list.
    collected: Option<Vec<Value>>,
    n: usize,
}

impl List<'_> {
    pub fn push(&mut self, out: &mut dyn Write, item: Value) -> Result<()> {
        let item = match &self.shape.fields {
            Some(fields) => pick(fields, item),
            None => item,
        };
        if let Some(all) = &mut self.collected {
            all.push(item);
        } else if let (Some(each), Some(jq)) = (self.each, &self.shape.jq) {
            jq.print(each, item, out)?;
        } else {
            if self.n > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, &item)?;
        }
        self.n += 1;
        Ok(())
    }

    pub fn finish(self, out: &mut dyn Write) -> Result<usize> {
        match (self.collected, &self.shape.jq) {
            (Some(all), Some(jq)) => jq.print(&jq.whole, Value::Array(all), out)?,
            (_, None) => out.write_all(b"]\n")?,
            _ => {}
        }
        Ok(self.n)
    }
}

/// `fields` of an object, in that order (`null` for a missing one); a
/// dotted name (`tasks.total`) picks from a nested object.
fn pick(fields: &[String], value: Value) -> Value {
    let Value::Object(mut map) = value else {
        return value;
    };
    let mut picked = Map::new();
    for field in fields {
        match field.split_once('.') {
            None => {
                let v = map.get(field).cloned().unwrap_or(Value::Null);
                picked.insert(field.clone(), v);
            }
            Some((outer, inner)) => {
                let v = map
                    .get_mut(outer)
                    .and_then(|o| o.get(inner))
                    .cloned()
                    .unwrap_or(Value::Null);
                let slot = picked
                    .entry(outer.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(nested) = slot {
                    nested.insert(inner.to_string(), v);
                }
            }
        }
    }
    Value::Object(picked)
}

/// The names of `list` when each is one of `available` (exit 2 listing
/// them otherwise).
fn checked_fields(list: &str, available: Option<&[&str]>, command: &str) -> Result<Vec<String>> {
    let Some(available) = available else {
        return Err(
            Error::usage(format!("todo {command} prints no JSON fields to select")).with_hint(
                "--json FIELDS is for commands that print JSON objects (see todo COMMAND --help)",
            ),
        );
    };
    let names: Vec<String> = list.split(',').map(|f| f.trim().to_string()).collect();
    if let Some(unknown) = names.iter().find(|n| !available.contains(&n.as_str())) {
        return Err(
            Error::usage(format!("unknown JSON field {unknown:?} for todo {command}"))
                .with_hint(format!("available fields: {}", available.join(", "))),
        );
    }
    Ok(names)
}

/// Whether `token`, after `--json`, is a field list rather than the next
/// argument: a comma-separated list of names, with a comma, or one of the
/// command's fields (so `task add --json milk` still adds "milk"; write
/// `--json=NAME` to mean a field).
pub fn looks_like_fields(token: &str, all_fields: &[&str]) -> bool {
    let name = |n: &str| {
        n.split('.').all(|part| {
            part.starts_with(|c: char| c.is_ascii_lowercase())
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
    };
    if !token.split(',').all(name) {
        return false;
    }
    token.contains(',') || all_fields.contains(&token)
}

impl Jq {
    fn compile(code: &str) -> Result<Jq> {
        let whole = compile(code)?;
        let each = match each_element(code) {
            Some(rest) => Some(compile(rest)?),
            None => None,
        };
        Ok(Jq { whole, each })
    }

    /// Runs `program` on `input` and prints its results as jq does.
    fn print(&self, program: &Program, input: Value, out: &mut dyn Write) -> Result<()> {
        let input = Val::deserialize(input)
            .map_err(|e| Error::unexpected(format!("--jq: cannot read the JSON: {e}")))?;
        let ctx = Ctx::<data::JustLut<Val>>::new(&program.lut, Vars::new([]));
        let pretty = jaq_json::write::Pp {
            indent: Some("  ".to_string()),
            sep_space: true,
            ..Default::default()
        };
        // A filter that recurses without end ends the process with an
        // error line, not an abort.
        let _deep = crate::signals::stack_overflow_is_the_filters();
        for result in program.id.run((ctx, input)) {
            match result {
                Ok(Val::TStr(text)) => {
                    out.write_all(&text)?;
                    out.write_all(b"\n")?;
                }
                Ok(v) => {
                    jaq_json::write::write(out, &pretty, 0, &v)?;
                    out.write_all(b"\n")?;
                }
                Err(exn) => {
                    out.flush()?;
                    return match exn.get_err() {
                        Ok(e) => Err(Error::new(
                            Kind::OutputFilter,
                            format!("--jq: {}", error_text(e.into_val())),
                        )),
                        Err(exn) => match exn.get_halt() {
                            // `halt_error` (its message is on stderr
                            // already, as jq writes it): a failure.
                            Ok(code) if code != 0 => Err(Error::new(
                                Kind::OutputFilter,
                                format!("--jq: halt_error with exit code {code}"),
                            )),
                            // `halt`: stop printing, as jq does.
                            _ => Ok(()),
                        },
                    };
                }
            }
        }
        Ok(())
    }
}

/// A native filter of the programs here.
type RunPtr = jaq_core::RunPtr<data::JustLut<Val>>;

/// jq's `stderr`: the input on stderr, a string as it is, anything else
/// as compact JSON, no newline; outputs nothing.
fn stderr_empty(cv: jaq_core::Cv<'_, data::JustLut<Val>>) -> jaq_core::ValXs<'_, Val> {
    let mut err = std::io::stderr().lock();
    let _ = match &cv.1 {
        Val::TStr(text) => err.write_all(text),
        other => write!(err, "{other}"),
    };
    Box::new(std::iter::empty())
}

/// jq's `debug`: `["DEBUG:",INPUT]` on stderr, a line; outputs nothing.
fn debug_empty(cv: jaq_core::Cv<'_, data::JustLut<Val>>) -> jaq_core::ValXs<'_, Val> {
    eprintln!("[\"DEBUG:\",{}]", cv.1);
    Box::new(std::iter::empty())
}

/// An uncaught error's value as jq prints it: a string as it is, anything
/// else as JSON marked `(not a string)`.
fn error_text(value: Val) -> String {
    match value {
        Val::TStr(text) => String::from_utf8_lossy(&text).into_owned(),
        other => format!("{other} (not a string)"),
    }
}

/// The filter for each element when `code` is `.[]`, `.[] | REST` or
/// `.[]` followed by a plain path (`.[].title`): `.`, `REST` or the path.
fn each_element(code: &str) -> Option<&str> {
    let rest = code.trim().strip_prefix(".[]")?.trim_start();
    if rest.is_empty() {
        return Some(".");
    }
    if let Some(after_pipe) = rest.strip_prefix('|') {
        return Some(after_pipe);
    }
    let plain_path = rest.starts_with('.')
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._".contains(&b));
    plain_path.then_some(rest)
}

/// Parses and compiles a jq filter: exit 2 with the parser's words.
fn compile(code: &str) -> Result<Program> {
    // The compiled filter borrows its text and arena for the process's
    // life (one per invocation).
    let code: &'static str = Box::leak(code.to_string().into_boxed_str());
    let arena: &'static Arena = Box::leak(Box::default());
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    // jaq writes `stderr`, `debug` and `halt_error`'s message through the
    // `log` crate, which prints nothing here: these write to stderr as jq.
    let funs = jaq_core::funs()
        .chain(
            jaq_std::funs().filter(|(name, ..)| !matches!(*name, "stderr_empty" | "debug_empty")),
        )
        .chain(jaq_json::funs())
        .chain([
            jaq_core::native::run::<data::JustLut<Val>>((
                "stderr_empty",
                jaq_core::native::v(0),
                stderr_empty as RunPtr,
            )),
            jaq_core::native::run::<data::JustLut<Val>>((
                "debug_empty",
                jaq_core::native::v(0),
                debug_empty as RunPtr,
            )),
        ]);
    let modules = Loader::new(defs)
        .load(arena, File { code, path: () })
        .map_err(|errs| bad_filter(code, load_messages(code, errs)))?;
    Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| {
            let words = errs
                .into_iter()
                .flat_map(|(_, e)| e)
                .map(|(name, undefined)| format!("undefined {} {name}", undefined.as_str()))
                .collect();
            bad_filter(code, words)
        })
}

fn load_messages(code: &str, errs: load::Errors<&str, ()>) -> Vec<String> {
    let at = |rest: &str| code.len().saturating_sub(rest.len()) + 1;
    let mut words = Vec::new();
    for (_, err) in errs {
        match err {
            load::Error::Io(e) => words.extend(e.into_iter().map(|(_, why)| why)),
            load::Error::Lex(e) => words.extend(e.into_iter().map(|(expect, rest)| {
                format!("expected {} at character {}", expect.as_str(), at(rest))
            })),
            load::Error::Parse(e) => words.extend(e.into_iter().map(|(expect, rest)| {
                format!("expected {} at character {}", expect.as_str(), at(rest))
            })),
        }
    }
    words
}

fn bad_filter(code: &str, words: Vec<String>) -> Error {
    Error::usage(format!("--jq: cannot parse {code:?}: {}", words.join("; ")))
        .with_hint("the filter is jq's language, e.g. --jq '.[] | .title'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shaped(fields: Option<&str>, jq: Option<&str>, value: Value) -> String {
        let shape = Shape::new(fields, Some(&["id", "title", "tasks.total"]), "t", jq)
            .unwrap()
            .unwrap();
        let mut out = Vec::new();
        shape.write_value(&mut out, value).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn fields_are_picked_in_the_order_given() {
        let v = serde_json::json!({"id": 1, "title": "a", "tasks": {"total": 3, "done": 1}});
        assert_eq!(
            shaped(Some("title,id"), None, v.clone()),
            "{\"title\":\"a\",\"id\":1}\n"
        );
        assert_eq!(
            shaped(Some("tasks.total"), None, v),
            "{\"tasks\":{\"total\":3}}\n"
        );
    }

    #[test]
    fn jq_prints_strings_raw_and_the_rest_indented() {
        let v = serde_json::json!([{"id": 1, "title": "a"}, {"id": 2, "title": "b"}]);
        assert_eq!(shaped(None, Some(".[].title"), v.clone()), "a\nb\n");
        assert_eq!(
            shaped(None, Some(".[0]"), v),
            "{\n  \"id\": 1,\n  \"title\": \"a\"\n}\n"
        );
    }

    #[test]
    fn only_leading_element_filters_stream() {
        assert_eq!(each_element(".[]"), Some("."));
        assert_eq!(each_element(" .[] | .id "), Some(" .id"));
        assert_eq!(each_element(".[].title"), Some(".title"));
        assert_eq!(each_element(".[].a, .b"), None);
        assert_eq!(each_element("map(.id)"), None);
        assert_eq!(each_element("length"), None);
    }

    #[test]
    fn a_bad_filter_is_a_usage_error_naming_the_place() {
        let err = Shape::new(None, None, "t", Some(".[] | select("))
            .err()
            .unwrap();
        assert_eq!(err.kind, crate::error::Kind::Usage);
        assert!(err.message.contains("at character"), "{}", err.message);
        let err = Shape::new(None, None, "t", Some("nosuchfn")).err().unwrap();
        assert!(err.message.contains("undefined"), "{}", err.message);
    }

    #[test]
    fn field_lists_are_told_from_arguments() {
        let all = ["id", "title"];
        assert!(looks_like_fields("id,title", &all));
        assert!(looks_like_fields("title", &all));
        assert!(looks_like_fields("nosuch,x", &all));
        assert!(!looks_like_fields("milk", &all));
        assert!(!looks_like_fields("Buy milk", &all));
        assert!(!looks_like_fields("12", &["id"]));
        assert!(!looks_like_fields("1,2", &["id"]));
    }
}
