//! The SQLSTATE of recent errors, per thread. diesel's error type carries
//! the server's message but no SQLSTATE (its `DatabaseErrorInformation`
//! has no accessor, and the boxed value cannot be downcast), so the
//! connection notes each error's code here as it builds the error, and the
//! command layer finds it again by the error's message
//! ([`crate::db::sqlstate`]). The message is only the key: nothing is ever
//! decided by its wording.

use std::cell::RefCell;

/// How many errors are remembered.
const REMEMBERED: usize = 8;

thread_local! {
    /// (primary message, SQLSTATE), the newest last.
    static ERRORS: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

/// Notes the SQLSTATE of an error with this primary message.
pub fn remember(message: &str, sqlstate: &str) {
    if sqlstate.len() != 5 {
        return;
    }
    ERRORS.with(|e| {
        let mut e = e.borrow_mut();
        if e.len() == REMEMBERED {
            e.remove(0);
        }
        e.push((message.to_string(), sqlstate.to_string()));
    });
}

/// The SQLSTATE of the newest error with this primary message.
pub fn of(message: &str) -> Option<String> {
    ERRORS.with(|e| {
        e.borrow()
            .iter()
            .rev()
            .find(|(m, _)| m == message)
            .map(|(_, code)| code.clone())
    })
}
