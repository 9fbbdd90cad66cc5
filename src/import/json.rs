//! JSON arrays: this tool's own task array and Taskwarrior's `task export`,
//! read element by element.

use std::io::BufRead;

use serde_json::Value;

use super::{checked, timestamp, Each, NewTask, Record, Stop};

/// A JSON array read element by element (serde's `SeqAccess`): only the
/// record being read is in memory.
pub(super) fn read(
    input: &mut dyn BufRead,
    taskwarrior: bool,
    each: &mut Each<'_>,
) -> Result<(), Stop> {
    use serde::Deserializer as _;
    let mut de = serde_json::Deserializer::from_reader(input);
    let mut failed = None;
    let visitor = Elements {
        taskwarrior,
        each,
        failed: &mut failed,
    };
    let read = de.deserialize_seq(visitor).and_then(|()| de.end());
    if let Some(e) = failed {
        return Err(Stop::Sink(e));
    }
    read.map_err(|e| match e.io_error_kind() {
        Some(_) => Stop::Input(e.line(), format!("cannot read: {e}")),
        None => Stop::Input(e.line(), format!("not valid JSON: {e}")),
    })
}

struct Elements<'a, 'b> {
    taskwarrior: bool,
    each: &'a mut Each<'b>,
    failed: &'a mut Option<std::io::Error>,
}

impl<'de> serde::de::Visitor<'de> for Elements<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of tasks")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut n = 0;
        while let Some(value) = seq.next_element::<Value>()? {
            n += 1;
            let record = if self.taskwarrior {
                taskwarrior_task(&value)
            } else {
                own_task(&value)
            };
            if let Err(e) = (self.each)(n, checked(record)) {
                *self.failed = Some(e);
                return Err(serde::de::Error::custom("the import stopped"));
            }
        }
        Ok(())
    }
}

fn string(r: &Value, field: &str) -> Result<Option<String>, String> {
    match r.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{field} is not a string")),
    }
}

pub(super) fn own_task(r: &Value) -> Record {
    if !r.is_object() {
        return Err("not an object".into());
    }
    let completed = match r.get("completed") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("completed is not true or false".into()),
    };
    Ok(Some(NewTask {
        title: string(r, "title")?.ok_or("no title")?,
        description: string(r, "description")?,
        completed,
        created_at: timestamp(r, "created_at")?,
        updated_at: timestamp(r, "updated_at")?,
    }))
}

/// `description` → title, annotations → description, `completed` → done,
/// `deleted` skipped, entry/modified → times.
fn taskwarrior_task(r: &Value) -> Record {
    if !r.is_object() {
        return Err("not an object".into());
    }
    let status = string(r, "status")?.unwrap_or_else(|| "pending".into());
    if status == "deleted" {
        return Ok(None);
    }
    let notes: Vec<String> = match r.get("annotations") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|a| {
                a.get("description")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Some(NewTask {
        title: string(r, "description")?.ok_or("no description")?,
        description: Some(notes.join("\n")).filter(|d| !d.is_empty()),
        completed: status == "completed",
        created_at: timestamp(r, "entry")?,
        updated_at: timestamp(r, "modified")?.or(timestamp(r, "end")?),
    }))
}
