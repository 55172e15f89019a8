//! Intent portfolios: several intents coordinated as one unit.
//!
//! | Seed method | Rust | Wire |
//! |---|---|---|
//! | `create_portfolio(name, description?, governance_policy?)` | [`Client::create_portfolio`] | `POST /api/v1/portfolios` (`created_by` = agent id) |
//! | `get_portfolio(id)` | [`Client::get_portfolio`] (aggregate status computed when absent) | `GET /api/v1/portfolios/{id}` (+ `GET …/intents`) |
//! | `list_portfolios(created_by?)` | [`Client::list_portfolios`] | `GET /api/v1/portfolios` |
//! | `update_portfolio_status(id, status)` | [`Client::update_portfolio_status`] | `PATCH /api/v1/portfolios/{id}/status` |
//! | `add_intent_to_portfolio(pid, iid, role, priority)` | [`Client::add_intent_to_portfolio`] | `POST /api/v1/portfolios/{pid}/intents` |
//! | `remove_intent_from_portfolio(pid, iid)` | [`Client::remove_intent_from_portfolio`] | `DELETE /api/v1/portfolios/{pid}/intents/{iid}` |
//! | `get_portfolio_intents(pid)` | [`Client::get_portfolio_intents`] | `GET /api/v1/portfolios/{pid}/intents` |
//! | `get_intent_portfolios(iid)` | [`Client::get_intent_portfolios`] | `GET /api/v1/intents/{iid}/portfolios` |

use openintent_transport::Request;
use openintent_types::{
    AddIntentToPortfolioRequest, AggregateStatus, CreatePortfolioRequest, Intent, MembershipRole, Portfolio,
    PortfolioMembership, PortfolioStatus, UpdatePortfolioStatusRequest,
};
use serde_json::Value;

use crate::client::{Client, GenericClient, intent_path, object, seg};
use crate::error::Result;
use crate::mode::{Async, Mode, impl_send};

fn portfolio_path(portfolio_id: &str, suffix: &str) -> Result<String> {
    Ok(format!("/api/v1/portfolios/{}{suffix}", seg("portfolio_id", portfolio_id)?))
}

impl<M: Mode> GenericClient<M> {
    /// Creates a portfolio (`POST /api/v1/portfolios`).
    ///
    /// ```no_run
    /// use serde_json::json;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let portfolio = client
    ///     .create_portfolio("Paris Trip 2024")
    ///     .description("Complete vacation planning")
    ///     .governance_policy(json!({"require_all_completed": true, "shared_constraints": {"budget": 5000}}))
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn create_portfolio(&self, name: impl Into<String>) -> CreatePortfolio<M> {
        CreatePortfolio { client: self.clone(), req: CreatePortfolioRequest::new(name), policy: None, metadata: None }
    }

    /// Reads a portfolio with its aggregate status. When the server sends none, the member
    /// intents are fetched and the aggregate computed
    /// ([`AggregateStatus::from_intents`]); `intents` is filled in too.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let p = client.get_portfolio("0b86…").await?;
    /// let agg = p.aggregate_status.unwrap_or_default();
    /// println!("{}% of {} done", agg.completion_percentage, agg.total);
    /// # Ok(()) }
    /// ```
    pub fn get_portfolio(&self, portfolio_id: &str) -> M::Call<Portfolio> {
        let portfolio_id = portfolio_id.to_owned();
        self.call(|c| async move {
            let mut p: Portfolio = c.json(Request::get(portfolio_path(&portfolio_id, "")?)).await?;
            if p.aggregate_status.is_none() {
                let intents = match p.intents.take() {
                    Some(i) => i,
                    None => c.get_portfolio_intents(&portfolio_id).await?,
                };
                p.aggregate_status = Some(AggregateStatus::from_intents(&intents));
                p.intents = Some(intents);
            }
            Ok(p)
        })
    }

    /// Lists portfolios (`GET /api/v1/portfolios`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let mine = client.list_portfolios().created_by(client.agent_id()).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn list_portfolios(&self) -> ListPortfolios<M> {
        ListPortfolios { client: self.clone(), created_by: None }
    }

    /// Sets a portfolio's status (`PATCH …/status`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// client.update_portfolio_status("0b86…", "completed").await?;
    /// # Ok(()) }
    /// ```
    pub fn update_portfolio_status(
        &self,
        portfolio_id: &str,
        status: impl Into<PortfolioStatus>,
    ) -> M::Call<Portfolio> {
        let req = UpdatePortfolioStatusRequest::new(status);
        let path = portfolio_path(portfolio_id, "/status");
        self.call(|c| async move { c.json(Client::with_body(Request::patch(path?), &req)?).await })
    }

    /// Adds an intent to a portfolio (`POST …/intents`), with an optional role and priority.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// client.add_intent_to_portfolio("0b86…", "8dd2…").role("primary").priority(100).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn add_intent_to_portfolio(&self, portfolio_id: &str, intent_id: impl Into<String>) -> AddIntentToPortfolio<M> {
        AddIntentToPortfolio {
            client: self.clone(),
            portfolio_id: portfolio_id.to_owned(),
            req: AddIntentToPortfolioRequest::new(intent_id),
        }
    }

    /// Removes an intent from a portfolio (`DELETE …/intents/{intent_id}`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// client.remove_intent_from_portfolio("0b86…", "8dd2…").await?;
    /// # Ok(()) }
    /// ```
    pub fn remove_intent_from_portfolio(&self, portfolio_id: &str, intent_id: &str) -> M::Call<()> {
        let path = seg("intent_id", intent_id).and_then(|i| portfolio_path(portfolio_id, &format!("/intents/{i}")));
        self.call(|c| async move { c.empty(Request::delete(path?)).await })
    }

    /// The member intents of a portfolio (`GET …/intents`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// for i in client.get_portfolio_intents("0b86…").await? {
    ///     println!("{}: {}", i.title, i.status);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get_portfolio_intents(&self, portfolio_id: &str) -> M::Call<Vec<Intent>> {
        let path = portfolio_path(portfolio_id, "/intents");
        self.call(|c| async move { Ok(c.list(Request::get(path?)).await?.items) })
    }

    /// The portfolios an intent belongs to (`GET /api/v1/intents/{id}/portfolios`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let portfolios = client.get_intent_portfolios("8dd2…").await?;
    /// # Ok(()) }
    /// ```
    pub fn get_intent_portfolios(&self, intent_id: &str) -> M::Call<Vec<Portfolio>> {
        let path = intent_path(intent_id, "/portfolios");
        self.call(|c| async move { Ok(c.list(Request::get(path?)).await?.items) })
    }
}

/// Builder of [`Client::create_portfolio`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct CreatePortfolio<M: Mode = Async> {
    client: GenericClient<M>,
    req: CreatePortfolioRequest,
    policy: Option<Value>,
    metadata: Option<Value>,
}

impl<M: Mode> CreatePortfolio<M> {
    /// The description.
    ///
    /// Example: [`Client::create_portfolio`].
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.req.description = Some(description.into());
        self
    }

    /// The governance policy (a JSON object: `require_all_completed`, `shared_constraints`...).
    ///
    /// Example: [`Client::create_portfolio`].
    pub fn governance_policy(mut self, policy: impl Into<Value>) -> Self {
        self.policy = Some(policy.into());
        self
    }

    /// Metadata (a JSON object).
    ///
    /// Example: [`Client::create_portfolio`].
    pub fn metadata(mut self, metadata: impl Into<Value>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }

    /// The creator (default: the agent id).
    ///
    /// Example: [`Client::create_portfolio`].
    pub fn created_by(mut self, created_by: impl Into<String>) -> Self {
        self.req.created_by = Some(created_by.into());
        self
    }

    async fn run(self) -> Result<Portfolio> {
        let mut req = self.req;
        if let Some(p) = self.policy {
            req.governance_policy = Some(object("governance_policy", p)?);
        }
        if let Some(m) = self.metadata {
            req.metadata = Some(object("metadata", m)?);
        }
        req.created_by.get_or_insert_with(|| self.client.agent_id().to_owned());
        let request = Client::with_body(Request::post("/api/v1/portfolios"), &req)?;
        self.client.json(request).await
    }
}
impl_send!(CreatePortfolio, Portfolio, "create_portfolio");

/// Builder of [`Client::list_portfolios`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct ListPortfolios<M: Mode = Async> {
    client: GenericClient<M>,
    created_by: Option<String>,
}

impl<M: Mode> ListPortfolios<M> {
    /// Only portfolios created by this principal.
    ///
    /// Example: [`Client::list_portfolios`].
    pub fn created_by(mut self, created_by: impl Into<String>) -> Self {
        self.created_by = Some(created_by.into());
        self
    }

    async fn run(self) -> Result<Vec<Portfolio>> {
        let mut req = Request::get("/api/v1/portfolios");
        if let Some(c) = self.created_by {
            req = req.query("created_by", c);
        }
        Ok(self.client.list(req).await?.items)
    }
}
impl_send!(ListPortfolios, Vec<Portfolio>, "list_portfolios");

/// Builder of [`Client::add_intent_to_portfolio`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct AddIntentToPortfolio<M: Mode = Async> {
    client: GenericClient<M>,
    portfolio_id: String,
    req: AddIntentToPortfolioRequest,
}

impl<M: Mode> AddIntentToPortfolio<M> {
    /// The role (`primary`, `member`, `dependency`; servers default to `member`).
    ///
    /// Example: [`Client::add_intent_to_portfolio`].
    pub fn role(mut self, role: impl Into<MembershipRole>) -> Self {
        self.req.role = Some(role.into());
        self
    }

    /// The priority (higher first; servers default to 0).
    ///
    /// Example: [`Client::add_intent_to_portfolio`].
    pub fn priority(mut self, priority: i64) -> Self {
        self.req.priority = Some(priority);
        self
    }

    async fn run(self) -> Result<PortfolioMembership> {
        let request = Client::with_body(Request::post(portfolio_path(&self.portfolio_id, "/intents")?), &self.req)?;
        let mut m: PortfolioMembership = self.client.json(request).await?;
        m.portfolio_id.get_or_insert(self.portfolio_id);
        m.intent_id.get_or_insert(self.req.intent_id);
        m.role = m.role.or(self.req.role);
        m.priority = m.priority.or(self.req.priority);
        Ok(m)
    }
}
impl_send!(AddIntentToPortfolio, PortfolioMembership, "add_intent_to_portfolio");
