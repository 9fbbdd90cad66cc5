//! libpq keyword/value connection strings (`host=… dbname=… user=…`),
//! parsed by libpq itself (`PQconninfoParse`: exactly its quoting and
//! escaping rules, and its list of keywords), for `--database-url`,
//! `DATABASE_URL` and the libpq environment (an empty string: libpq's
//! `PG*` variables, service file and `.pgpass`, as psql connects).

use std::ffi::{CStr, CString};

/// The keyword/value pairs of `conninfo`, or libpq's reason it is not one.
pub fn parse(conninfo: &str) -> Result<Vec<(String, String)>, String> {
    let text = CString::new(conninfo).map_err(|_| "it holds a NUL byte".to_string())?;
    let mut err: *mut std::ffi::c_char = std::ptr::null_mut();
    // SAFETY: a NUL-terminated string and an out pointer; the options array
    // (or the error message) is ours to free, once, below.
    let options = unsafe { pq_sys::PQconninfoParse(text.as_ptr(), &mut err) };
    if options.is_null() {
        let message = if err.is_null() {
            "out of memory".to_string()
        } else {
            // SAFETY: libpq's NUL-terminated message, freed after the copy.
            let m = unsafe { CStr::from_ptr(err) }
                .to_string_lossy()
                .trim()
                .to_string();
            unsafe { pq_sys::PQfreemem(err.cast()) };
            m
        };
        return Err(message);
    }
    let mut pairs = Vec::new();
    let mut i = 0;
    loop {
        // SAFETY: the array ends with an entry whose keyword is NULL.
        let option = unsafe { &*options.add(i) };
        if option.keyword.is_null() {
            break;
        }
        if !option.val.is_null() {
            // SAFETY: NUL-terminated strings owned by the array.
            let key = unsafe { CStr::from_ptr(option.keyword) }
                .to_string_lossy()
                .into_owned();
            let value = unsafe { CStr::from_ptr(option.val) }
                .to_string_lossy()
                .into_owned();
            pairs.push((key, value));
        }
        i += 1;
    }
    // SAFETY: the array from PQconninfoParse, freed once.
    unsafe { pq_sys::PQconninfoFree(options) };
    Ok(pairs)
}

/// The major version of the libpq linked in (18 for 18.6).
pub fn libpq_major() -> i32 {
    // SAFETY: PQlibVersion has no preconditions.
    unsafe { pq_sys::PQlibVersion() / 10000 }
}

/// The value of `key` among parsed pairs.
pub fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `value` quoted for a keyword/value string, as libpq reads it.
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}
