//! The demo world `serve --demo` loads: the platform admin and, for each org kind, an org with
//! an owner and a staff user. Loading twice changes nothing.

use crate::auth::{OrgKind, Permission, Role};
use crate::db::DbPool;
use crate::orgs::store;
use diesel_async::AsyncConnection;

/// Every demo account's password.
pub const DEMO_PASSWORD: &str = "holdfast-demo-2026";

pub struct DemoLogin {
    pub org: &'static str,
    pub kind: OrgKind,
    pub email: String,
    pub role: Role,
}

const ORGS: &[(&str, OrgKind, &str)] = &[
    ("Holdfast Platform", OrgKind::Platform, "platform"),
    ("Yantai Orchard Cooperative", OrgKind::Supplier, "supplier"),
    ("Shandong Harvest Bank", OrgKind::Lender, "lender"),
    (
        "Yantai Cold Chain Logistics",
        OrgKind::WarehouseOperator,
        "warehouse",
    ),
    ("Qingdao Fresh Market", OrgKind::Buyer, "buyer"),
];

/// Creates what is missing and answers the logins.
pub async fn load(pool: &DbPool) -> anyhow::Result<Vec<DemoLogin>> {
    let password_hash = crate::auth::password::hash(DEMO_PASSWORD.to_owned()).await?;
    let mut conn = pool.get().await?;
    let mut logins = Vec::new();
    for (name, kind, slug) in ORGS {
        let hash = password_hash.clone();
        let created = conn
            .transaction::<_, diesel::result::Error, _>(async move |conn| {
                let org = match store::find_org_by_name(conn, name).await? {
                    Some(org) => org,
                    None => store::insert_org(conn, name, *kind).await?,
                };
                let mut accounts = Vec::new();
                for (role, local) in [(Role::Owner, "owner"), (Role::Staff, "staff")] {
                    let email = format!("{local}@{slug}.demo.holdfast");
                    if store::find_user_by_email(conn, &email).await?.is_none() {
                        let permissions = match role {
                            Role::Owner => Permission::all_for(*kind),
                            Role::Staff => vec![],
                        };
                        store::insert_user(
                            conn,
                            store::NewUserRow {
                                org_id: org.id,
                                email: &email,
                                password_hash: &hash,
                                role,
                                permissions: &permissions,
                                created_by: None,
                            },
                        )
                        .await?;
                    }
                    accounts.push((email, role));
                }
                Ok(accounts)
            })
            .await?;
        logins.extend(created.into_iter().map(|(email, role)| DemoLogin {
            org: name,
            kind: *kind,
            email,
            role,
        }));
    }
    Ok(logins)
}
