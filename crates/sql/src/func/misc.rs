//! placeholder

use super::signature::Registry;

pub(super) fn register(r: &mut Registry) {
    let _ = r;
}
