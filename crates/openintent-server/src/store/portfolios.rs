//! Portfolios and their member intents; a membership change is also kept on the portfolio's
//! event stream.

use openintent_types::{Intent, MembershipRole, Portfolio, PortfolioMembership, PortfolioStatus};

use super::db::{PORTFOLIO_NOT_FOUND, require_intent};
use super::driver::{query, query_scalar};
use super::rows::{INTENT_COLS, PORTFOLIO_COLS, intent_from_row, portfolio_from_row, readable, to_json, ts};
use super::streams::keep_stream_message;
use super::{NewPortfolio, Store, StoreError, StoreResult, new_id, now};
use crate::notify;

impl Store {
    pub(crate) async fn create_portfolio(&self, new: NewPortfolio) -> StoreResult<Portfolio> {
        let mut tx = self.db.begin().await?;
        let t = now();
        let mut p = Portfolio::default();
        p.id = new_id();
        p.name = new.name;
        p.description = new.description;
        p.created_by = new.created_by;
        p.status = PortfolioStatus::Active;
        p.governance_policy = new.governance_policy;
        p.metadata = new.metadata;
        p.created_at = t;
        p.updated_at = t;
        query(
            "INSERT INTO portfolios (id, name, description, created_by, status, governance_policy, metadata, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&p.id)
        .bind(&p.name)
        .bind(&p.description)
        .bind(&p.created_by)
        .bind(p.status.as_str())
        .bind(to_json(&p.governance_policy))
        .bind(p.metadata.as_ref().map(to_json))
        .bind(ts(&t))
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    pub(crate) async fn list_portfolios(&self, created_by: Option<&str>) -> StoreResult<Vec<Portfolio>> {
        let rows = match created_by {
            Some(c) => {
                query(&format!("SELECT {PORTFOLIO_COLS} FROM portfolios WHERE created_by = $1 ORDER BY seq"))
                    .bind(c)
                    .fetch_all(&self.db.pool)
                    .await?
            }
            None => {
                query(&format!("SELECT {PORTFOLIO_COLS} FROM portfolios ORDER BY seq")).fetch_all(&self.db.pool).await?
            }
        };
        readable(&rows, portfolio_from_row)
    }

    pub(crate) async fn get_portfolio(&self, id: &str) -> StoreResult<Option<Portfolio>> {
        let row = query(&format!("SELECT {PORTFOLIO_COLS} FROM portfolios WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await?;
        row.as_ref().map(portfolio_from_row).transpose()
    }

    pub(crate) async fn update_portfolio_status(&self, id: &str, status: &PortfolioStatus) -> StoreResult<Portfolio> {
        let mut tx = self.db.begin().await?;
        let t = now();
        let done = query("UPDATE portfolios SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(ts(&t))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(PORTFOLIO_NOT_FOUND));
        }
        let row = query(&format!("SELECT {PORTFOLIO_COLS} FROM portfolios WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        portfolio_from_row(&row)
    }

    /// Adds an intent to a portfolio; adding it again updates its role and priority. The
    /// `intent_added` message is kept on the portfolio's stream and published on commit.
    pub(crate) async fn add_membership(
        &self,
        portfolio_id: &str,
        intent_id: &str,
        role: &MembershipRole,
        priority: i64,
    ) -> StoreResult<PortfolioMembership> {
        let mut tx = self.db.begin().await?;
        let exists: Option<i64> =
            query_scalar("SELECT 1 FROM portfolios WHERE id = $1").bind(portfolio_id).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(PORTFOLIO_NOT_FOUND));
        }
        require_intent(&mut tx, intent_id).await?;
        let t = now();
        query(
            "INSERT INTO portfolio_memberships (id, portfolio_id, intent_id, role, priority, added_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (portfolio_id, intent_id) DO UPDATE SET role = excluded.role, priority = excluded.priority",
        )
        .bind(new_id())
        .bind(portfolio_id)
        .bind(intent_id)
        .bind(role.as_str())
        .bind(priority)
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        let row = query(
            "SELECT id, portfolio_id, intent_id, role, priority, added_at FROM portfolio_memberships \
             WHERE portfolio_id = $1 AND intent_id = $2",
        )
        .bind(portfolio_id)
        .bind(intent_id)
        .fetch_one(&mut *tx)
        .await?;
        let message = notify::membership_changed("intent_added", portfolio_id, intent_id, &new_id());
        keep_stream_message(&mut tx, &message).await?;
        tx.commit().await?;
        let mut m = PortfolioMembership::default();
        m.id = row.try_get("id")?;
        m.portfolio_id = Some(row.try_get("portfolio_id")?);
        m.intent_id = Some(row.try_get("intent_id")?);
        m.role = Some(MembershipRole::parse(&row.try_get::<String, _>("role")?));
        m.priority = Some(row.try_get("priority")?);
        m.added_at = Some(row.try_get("added_at")?);
        Ok(m)
    }

    /// Removes an intent from a portfolio; `false` when it was not a member. The
    /// `intent_removed` message is kept on the portfolio's stream and published on commit.
    pub(crate) async fn remove_membership(&self, portfolio_id: &str, intent_id: &str) -> StoreResult<bool> {
        let mut tx = self.db.begin().await?;
        let done = query("DELETE FROM portfolio_memberships WHERE portfolio_id = $1 AND intent_id = $2")
            .bind(portfolio_id)
            .bind(intent_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let message = notify::membership_changed("intent_removed", portfolio_id, intent_id, &new_id());
        keep_stream_message(&mut tx, &message).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The member intents, highest priority first.
    pub(crate) async fn portfolio_intents(&self, portfolio_id: &str) -> StoreResult<Vec<Intent>> {
        let cols: Vec<String> = INTENT_COLS.split(", ").map(|c| format!("i.{}", c.trim())).collect();
        let rows = query(&format!(
            "SELECT {} FROM portfolio_memberships m JOIN intents i ON i.id = m.intent_id \
             WHERE m.portfolio_id = $1 ORDER BY m.priority DESC, m.seq",
            cols.join(", ")
        ))
        .bind(portfolio_id)
        .fetch_all(&self.db.pool)
        .await?;
        readable(&rows, intent_from_row)
    }

    pub(crate) async fn intent_portfolios(&self, intent_id: &str) -> StoreResult<Vec<Portfolio>> {
        let cols: Vec<String> = PORTFOLIO_COLS.split(", ").map(|c| format!("p.{}", c.trim())).collect();
        let rows = query(&format!(
            "SELECT {} FROM portfolio_memberships m JOIN portfolios p ON p.id = m.portfolio_id \
             WHERE m.intent_id = $1 ORDER BY m.seq",
            cols.join(", ")
        ))
        .bind(intent_id)
        .fetch_all(&self.db.pool)
        .await?;
        readable(&rows, portfolio_from_row)
    }
}
