//! JSON arrays: this tool's own task array and Taskwarrior's `task export`,
//! read element by element.

use std::io::BufRead;

use serde_json::Value;

use super::{checked, timestamp, Dropped, Each, NewTask, Record, Stop};

/// A JSON array read element by element (serde's `SeqAccess`): only the
/// record being read is in memory.
/// `taskwarrior`: Some(the fields not kept) for Taskwarrior's export.
pub(super) fn read(
    input: &mut dyn BufRead,
    taskwarrior: Option<&mut Dropped>,
    each: &mut Each<'_>,
) -> Result<(), Stop> {
    use serde::Deserializer as _;
    let budget = crate::bounded::Budget::default();
    let mut de =
        serde_json::Deserializer::from_reader(crate::bounded::Limited::new(input, &budget));
    let mut failed = None;
    let visitor = Elements {
        taskwarrior,
        each,
        failed: &mut failed,
        budget: &budget,
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
    taskwarrior: Option<&'a mut Dropped>,
    each: &'a mut Each<'b>,
    failed: &'a mut Option<std::io::Error>,
    /// Reset after each element: a record may be at most `MAX_RECORD`.
    budget: &'a crate::bounded::Budget,
}

impl<'de> serde::de::Visitor<'de> for Elements<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of tasks")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let mut n = 0;
        while let Some(value) = seq.next_element::<Value>()? {
            self.budget.reset();
            n += 1;
            let record = match self.taskwarrior.as_deref_mut() {
                Some(dropped) => taskwarrior_task(&value, dropped),
                None => own_task(&value),
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

/// Taskwarrior fields this tool keeps (as the title, description, status
/// and times), and its own bookkeeping (`id`, the working-set number;
/// `uuid`; `urgency`, computed), which is not reported as lost.
const TASKWARRIOR_KEPT: [&str; 9] = [
    "description",
    "annotations",
    "status",
    "entry",
    "modified",
    "end",
    "id",
    "uuid",
    "urgency",
];

/// `description` → title, annotations → description, `completed` → done,
/// `deleted` skipped, entry/modified → times; `waiting` and `recurring`
/// are pending; any other status is an error. Other fields (`due`,
/// `priority`, `project`, `tags`, …) are counted in `dropped`.
fn taskwarrior_task(r: &Value, dropped: &mut Dropped) -> Record {
    let Some(fields) = r.as_object() else {
        return Err("not an object".into());
    };
    let status = string(r, "status")?.unwrap_or_else(|| "pending".into());
    match status.as_str() {
        "deleted" => return Ok(None),
        "pending" | "completed" | "waiting" | "recurring" => {}
        other => {
            return Err(format!(
                "status '{other}' is not a Taskwarrior status (pending, completed, deleted, waiting, recurring)"
            ))
        }
    }
    for key in fields.keys() {
        if !TASKWARRIOR_KEPT.contains(&key.as_str()) {
            *dropped.entry(key.clone()).or_default() += 1;
        }
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
