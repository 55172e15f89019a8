//! The one piece of request plumbing the store still uses: the 422 of a patch that cannot be
//! applied. It goes once the store reports patch errors in its own error type.

use openintent_types::{FieldError, PatchError};
use serde_json::json;

use crate::error::ApiError;

/// The 422 of a patch that cannot be applied; nothing was written.
pub fn patch_error(e: PatchError) -> ApiError {
    let index = e.index();
    let field = match e {
        PatchError::UnknownOp { .. } => "op",
        _ => "path",
    };
    let mut fe = FieldError::default();
    fe.kind = "value_error".into();
    fe.loc = vec![json!("body"), json!("patches"), json!(index), json!(field)];
    fe.msg = e.to_string();
    ApiError::Validation(vec![fe])
}
