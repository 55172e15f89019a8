//! Answers shared by the areas: models in their superset wire form, lists, merged
//! acknowledgements, and the 404 of a sub-resource list of a missing intent.

use axum::Json;
use openintent_types::wire::{WireModel, to_superset_value};
use serde::Serialize;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The 404 detail of every intent route whose intent does not exist.
pub(super) const INTENT_NOT_FOUND: &str = "Intent not found";

/// A model in the superset wire form (every field older clients read).
pub(super) fn wire<T: Serialize + WireModel>(model: &T) -> Value {
    to_superset_value(model)
}

/// A JSON array of models in their wire form.
pub(super) fn list<T: Serialize + WireModel>(items: &[T]) -> Json<Value> {
    Json(Value::Array(items.iter().map(wire).collect()))
}

/// `base` with the members of `extra` added (an object answer with acknowledgement keys).
pub(super) fn merge(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
    base
}

/// The items of one of an intent's sub-resources; 404 `Intent not found` when the list is
/// empty because the intent does not exist (as every other intent route answers), rather than
/// an empty list.
pub(super) async fn of_intent<T>(state: &AppState, intent_id: &str, items: Vec<T>) -> ApiResult<Vec<T>> {
    // Intents are never deleted and every item references its intent: a non-empty list
    // proves the intent exists.
    if items.is_empty() && state.store().get_intent(intent_id).await?.is_none() {
        return Err(ApiError::not_found(INTENT_NOT_FOUND));
    }
    Ok(items)
}
