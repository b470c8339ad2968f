//! Reference data and lots for tests, made through the API as the people who make them.

use crate::support::{Reply, Session, TestApp};
use serde_json::{Value, json};
use uuid::Uuid;

pub struct Custody {
    pub admin: Session,
    pub supplier: Session,
    pub warehouse_staff: Session,
    pub warehouse_id: String,
    pub commodity: String,
}

pub async fn commodity(app: &TestApp, admin: &Session, code: &str) {
    let reply = app
        .post(
            "/v1/commodities",
            admin.token(),
            &json!({
                "code": code,
                "name": "Fuji apples",
                "unit": "kg",
                "shelf_life_days": 180,
                "fresh_days": 60,
                "end_freshness_factor": "0.5",
                "grades": {"A": "1.00", "B": "0.85", "C": "0.60"},
                "temperature_min_c": "-1",
                "temperature_max_c": "4"
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

pub async fn warehouse(
    app: &TestApp,
    admin: &Session,
    operator_org: Uuid,
    commodity: &str,
) -> String {
    let reply = app
        .post(
            "/v1/warehouses",
            admin.token(),
            &json!({
                "name": format!("Cold store {}", Uuid::new_v4().simple()),
                "operator_org_id": operator_org,
                "address": "Zhifu District, Yantai, Shandong",
                "kind": "cold_storage",
                "temperature_min_c": "-1",
                "temperature_max_c": "4",
                "breach_grace_minutes": 30,
                "storage_rates": [{"commodity_code": commodity, "rate_per_unit_day": "0.004", "currency": "CNY"}]
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body["id"].as_str().expect("id").to_owned()
}

pub async fn voyage(
    app: &TestApp,
    admin: &Session,
    carrier_org: Uuid,
    destination: Option<&str>,
) -> String {
    let reply = app
        .post(
            "/v1/voyages",
            admin.token(),
            &json!({
                "vessel_name": "Beibu Gulf Star",
                "carrier_org_id": carrier_org,
                "origin": "Qinzhou, Guangxi",
                "destination": "Rizhao, Shandong",
                "destination_warehouse_id": destination,
                "departs_at": "2026-12-01T00:00:00Z",
                "eta": "2026-12-18T00:00:00Z"
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body["id"].as_str().expect("id").to_owned()
}

/// A platform admin, a supplier, a warehouse operator with a cold store and its owner
/// (who scans), and an apple commodity.
pub async fn custody(app: &TestApp) -> Custody {
    use holdfast::auth::OrgKind;
    let admin = app.admin().await;
    let supplier = app.owner_of(OrgKind::Supplier).await;
    let warehouse_staff = app.owner_of(OrgKind::WarehouseOperator).await;
    let commodity_code = format!(
        "APPLE_{}",
        &Uuid::new_v4().simple().to_string()[..6].to_uppercase()
    );
    commodity(app, &admin, &commodity_code).await;
    let warehouse_id = warehouse(app, &admin, warehouse_staff.org_id, &commodity_code).await;
    Custody {
        admin,
        supplier,
        warehouse_staff,
        warehouse_id,
        commodity: commodity_code,
    }
}

pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

impl Custody {
    pub async fn announce(&self, app: &TestApp, quantity: &str) -> Value {
        let reply = app
            .post(
                "/v1/lots",
                self.supplier.token(),
                &json!({
                    "commodity_code": self.commodity,
                    "grade": "A",
                    "quantity": quantity,
                    "packed_on": today(),
                    "warehouse_id": self.warehouse_id
                }),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.body
    }

    pub async fn scan(&self, app: &TestApp, body: Value) -> Reply {
        scan_as(app, &self.warehouse_staff, body).await
    }

    /// A lot received in full at the warehouse.
    pub async fn lot_in_custody(&self, app: &TestApp, quantity: &str) -> Value {
        let lot = self.announce(app, quantity).await;
        let reply = self
            .scan(app, json!({"code": lot["code"], "action": "receive"}))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body["lot"].clone()
    }

    pub async fn withdraw(&self, app: &TestApp, lot_id: &str, quantity: &str) -> Reply {
        app.request_with(
            "POST",
            "/v1/withdrawals",
            Some(self.supplier.token()),
            Some(&json!({"lot_id": lot_id, "quantity": quantity})),
            &[("Idempotency-Key", &Uuid::new_v4().to_string())],
        )
        .await
    }
}

pub async fn scan_as(app: &TestApp, who: &Session, body: Value) -> Reply {
    app.request_with(
        "POST",
        "/v1/scans",
        Some(who.token()),
        Some(&body),
        &[("Idempotency-Key", &Uuid::new_v4().to_string())],
    )
    .await
}
