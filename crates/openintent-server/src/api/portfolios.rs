//! Portfolios: groups of intents with a membership role and priority, and their aggregate
//! status.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{delete, get, patch, post};
use openintent_types::{
    AddIntentToPortfolioRequest, AggregateStatus, CreatePortfolioRequest, MembershipRole, UpdatePortfolioStatusRequest,
};
use serde_json::{Value, json};

use super::extract::{JsonBody, Principal, QueryParams, keyed};
use super::reply::{INTENT_NOT_FOUND, list, merge, of_intent, wire};
use super::spec::{Op, Reply, op, q_string, request};
use crate::error::{ApiError, ApiResult};
use crate::rules::ownership::{self, Access, Object};
use crate::state::AppState;
use crate::store::NewPortfolio;

const PORTFOLIO_NOT_FOUND: &str = "Portfolio not found";

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/intents/{id}/portfolios", keyed(state, get(intent_portfolios)))
        .route("/api/v1/portfolios", keyed(state, post(create_portfolio).get(list_portfolios)))
        .route("/api/v1/portfolios/{id}", keyed(state, get(get_portfolio)))
        .route("/api/v1/portfolios/{id}/status", keyed(state, patch(update_portfolio_status)))
        .route("/api/v1/portfolios/{id}/intents", keyed(state, post(add_intent_to_portfolio).get(portfolio_intents)))
        .route("/api/v1/portfolios/{id}/intents/{intent_id}", keyed(state, delete(remove_intent_from_portfolio)))
}

async fn create_portfolio(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreatePortfolioRequest>,
) -> ApiResult<Json<Value>> {
    let new = NewPortfolio {
        name: body.name,
        description: body.description.unwrap_or_default(),
        created_by: principal.acting_as("created_by", body.created_by.as_deref())?,
        governance_policy: body.governance_policy.unwrap_or_default(),
        metadata: body.metadata,
    };
    let portfolio = state.store().create_portfolio(new).await?;
    Ok(Json(wire(&portfolio)))
}

async fn list_portfolios(State(state): State<AppState>, _p: Principal, q: QueryParams) -> ApiResult<Json<Value>> {
    Ok(list(&state.store().list_portfolios(q.get("created_by")).await?))
}

async fn get_portfolio(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let backend = state.store();
    let mut portfolio = backend.get_portfolio(&id).await?.ok_or_else(|| ApiError::not_found(PORTFOLIO_NOT_FOUND))?;
    // The members and the aggregate status leave out the intents the caller may not read.
    let intents = backend.readable(p.as_str(), backend.portfolio_intents(&id).await?).await?;
    portfolio.aggregate_status = Some(AggregateStatus::from_intents(&intents));
    portfolio.intents = Some(intents);
    let mut value = wire(&portfolio);
    if let Some(Value::Array(items)) = value.get_mut("intents")
        && let Some(list) = portfolio.intents.as_ref()
    {
        *items = list.iter().map(wire).collect();
    }
    Ok(Json(value))
}

async fn update_portfolio_status(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdatePortfolioStatusRequest>,
) -> ApiResult<Json<Value>> {
    may_change(&state, &p, &id).await?;
    let portfolio = state.store().update_portfolio_status(&id, &body.status).await?;
    Ok(Json(wire(&portfolio)))
}

async fn add_intent_to_portfolio(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AddIntentToPortfolioRequest>,
) -> ApiResult<Json<Value>> {
    may_change(&state, &p, &id).await?;
    // An intent the caller may not read is answered as an unknown one.
    if state.store().readable_ids(p.as_str(), &[body.intent_id.as_str()]).await?.is_empty() {
        return Err(ApiError::not_found(INTENT_NOT_FOUND));
    }
    let role = body.role.clone().unwrap_or(MembershipRole::Member);
    let membership = state.store().add_membership(&id, &body.intent_id, &role, body.priority.unwrap_or(0)).await?;
    let ack = json!({"message": "Intent added to portfolio", "membership_id": membership.id});
    Ok(Json(merge(wire(&membership), ack)))
}

async fn portfolio_intents(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let backend = state.store();
    Ok(list(&backend.readable(p.as_str(), backend.portfolio_intents(&id).await?).await?))
}

async fn remove_intent_from_portfolio(
    State(state): State<AppState>,
    p: Principal,
    Path((id, intent_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    may_change(&state, &p, &id).await?;
    // The membership of an intent the caller may not read is answered as absent.
    let readable = !state.store().readable_ids(p.as_str(), &[intent_id.as_str()]).await?.is_empty();
    if !readable || !state.store().remove_membership(&id, &intent_id).await? {
        return Err(ApiError::not_found("Membership not found"));
    }
    Ok(Json(json!({"message": "Intent removed from portfolio"})))
}

/// Whether the caller may change portfolio `id` (its status, its members): [`ownership`], its
/// creator or an admin key; 404 when there is no such portfolio, 403 otherwise.
async fn may_change(state: &AppState, p: &Principal, id: &str) -> ApiResult<()> {
    let portfolio = state.store().get_portfolio(id).await?.ok_or_else(|| ApiError::not_found(PORTFOLIO_NOT_FOUND))?;
    ownership::check(Object::Portfolio, Access::Change, p.as_str(), p.role(), &[Some(&portfolio.created_by)])?;
    Ok(())
}

async fn intent_portfolios(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(list(&of_intent(&state, &id, state.store().intent_portfolios(&id).await?).await?))
}

// ----- OpenAPI ------------------------------------------------------------------------------

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("post", "/api/v1/portfolios", "createPortfolio", "portfolios", "Create a portfolio")
        .body(request!(CreatePortfolioRequest))
        .reply(Reply::Model("Portfolio")),
    op("get", "/api/v1/portfolios", "listPortfolios", "portfolios", "List portfolios")
        .query(&[("created_by", q_string, "Only portfolios created by this principal")])
        .reply(Reply::List("Portfolio")),
    op("get", "/api/v1/portfolios/{id}", "getPortfolio", "portfolios", "Read a portfolio with its intents")
        .reply(Reply::Model("Portfolio")),
    op("patch", "/api/v1/portfolios/{id}/status", "updatePortfolioStatus", "portfolios", "Change a portfolio's status")
        .body(request!(UpdatePortfolioStatusRequest))
        .reply(Reply::Model("Portfolio")),
    op("post", "/api/v1/portfolios/{id}/intents", "addIntentToPortfolio", "portfolios", "Add an intent")
        .body(request!(AddIntentToPortfolioRequest))
        .reply(Reply::Model("PortfolioMembership"))
        .errors(&[409]),
    op("get", "/api/v1/portfolios/{id}/intents", "portfolioIntents", "portfolios", "Intents of a portfolio")
        .reply(Reply::List("Intent")),
    op(
        "delete",
        "/api/v1/portfolios/{id}/intents/{intent_id}",
        "removeIntentFromPortfolio",
        "portfolios",
        "Remove an intent",
    )
    .reply(Reply::Json(message_schema)),
    op("get", "/api/v1/intents/{id}/portfolios", "intentPortfolios", "portfolios", "Portfolios holding an intent")
        .reply(Reply::List("Portfolio")),
];

fn message_schema() -> Value {
    json!({"type": "object", "properties": {"message": {"type": "string"}}})
}
