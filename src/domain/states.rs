//! The states of things, as enums instead of strings: a lot's status, a loan's, a sale's, a
//! voyage's, a release order's; the kinds of movement and of sale. Each is stored as the text
//! it prints (the columns keep their CHECK constraints), serialises as that text in JSON, and
//! describes itself in OpenAPI as an enumeration. The database mapping is in `db::text_enum`.
//!
//! Which transitions a lot may take is `domain::custody`.

/// An enum stored and shown as text: `as_str`, `parse`, `Display`, serde and the schema, and
/// the diesel mapping to a `Text` column.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        crate::db::text_enum::maps_to_text!($name);
    };
}

text_enum! {
    /// Where a lot stands: announced, in a warehouse, at sea, or gone.
    LotStatus {
        Announced = "announced",
        InCustody = "in_custody",
        InTransit = "in_transit",
        Released = "released",
    }
}

text_enum! {
    /// What a movement did to a lot.
    MovementKind {
        Announce = "announce",
        Receive = "receive",
        Release = "release",
        Load = "load",
        Unload = "unload",
        Transfer = "transfer",
        CountAdjustment = "count_adjustment",
        SplitOut = "split_out",
        SplitIn = "split_in",
        Regrade = "regrade",
    }
}

impl MovementKind {
    /// Whether the movement brings the goods into the warehouse it names: from then on they
    /// share that warehouse's temperature breaches.
    pub fn arrives(self) -> bool {
        matches!(
            self,
            MovementKind::Receive | MovementKind::Unload | MovementKind::Transfer
        )
    }
}

text_enum! {
    /// What a warehouse worker's scan asks for.
    ScanAction {
        Receive = "receive",
        Release = "release",
        Count = "count",
        Load = "load",
        Unload = "unload",
        Transfer = "transfer",
    }
}

text_enum! {
    /// A loan's life: requested → approved → active → repaid; or rejected, cancelled,
    /// defaulted → liquidating → closed or written off.
    LoanStatus {
        Requested = "requested",
        Approved = "approved",
        Active = "active",
        Repaid = "repaid",
        Rejected = "rejected",
        Cancelled = "cancelled",
        Defaulted = "defaulted",
        Liquidating = "liquidating",
        Closed = "closed",
        WrittenOff = "written_off",
    }
}

impl LoanStatus {
    /// Money is out and interest accrues.
    pub const LIVE: &'static [LoanStatus] = &[
        LoanStatus::Active,
        LoanStatus::Defaulted,
        LoanStatus::Liquidating,
    ];
    /// Holds the facility's limit before disbursement.
    pub const PENDING: &'static [LoanStatus] = &[LoanStatus::Requested, LoanStatus::Approved];

    pub fn is_live(self) -> bool {
        Self::LIVE.contains(&self)
    }

    pub fn is_pending(self) -> bool {
        Self::PENDING.contains(&self)
    }

    /// Pledges may still change: more collateral, or goods released with consent.
    pub fn takes_collateral_changes(self) -> bool {
        matches!(
            self,
            LoanStatus::Requested | LoanStatus::Approved | LoanStatus::Active
        )
    }

    /// What a loan paid to zero becomes: `repaid` on time, `closed` after a default.
    pub fn when_paid_off(self) -> LoanStatus {
        if self == LoanStatus::Active {
            LoanStatus::Repaid
        } else {
            LoanStatus::Closed
        }
    }
}

text_enum! {
    /// A sale waits for payment (and perhaps a lender's consent), settles, is cancelled, or is
    /// forfeited by a buyer that did not pay in time.
    SaleStatus {
        Pending = "pending",
        Settled = "settled",
        Cancelled = "cancelled",
        /// Its buyer did not pay in time: what it had paid went to the seller's side.
        Forfeited = "forfeited",
    }
}

text_enum! {
    /// An ordinary sale, or a lender's liquidation of a defaulted loan's goods.
    SaleKind {
        Sale = "sale",
        Liquidation = "liquidation",
    }
}

text_enum! {
    /// A vessel's voyage.
    VoyageStatus {
        Planned = "planned",
        Underway = "underway",
        Arrived = "arrived",
    }
}

text_enum! {
    /// What may still leave against a release order.
    ReleaseOrderStatus {
        Open = "open",
        Completed = "completed",
        Cancelled = "cancelled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_prints_and_parses_as_its_column_text() {
        fn round_trip<T: Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            as_str: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) {
            for &value in all {
                assert_eq!(parse(as_str(value)), Some(value));
            }
            assert_eq!(parse("no_such_state"), None);
        }
        round_trip(LotStatus::ALL, LotStatus::as_str, LotStatus::parse);
        round_trip(MovementKind::ALL, MovementKind::as_str, MovementKind::parse);
        round_trip(ScanAction::ALL, ScanAction::as_str, ScanAction::parse);
        round_trip(LoanStatus::ALL, LoanStatus::as_str, LoanStatus::parse);
        round_trip(SaleStatus::ALL, SaleStatus::as_str, SaleStatus::parse);
        round_trip(SaleKind::ALL, SaleKind::as_str, SaleKind::parse);
        round_trip(VoyageStatus::ALL, VoyageStatus::as_str, VoyageStatus::parse);
        round_trip(
            ReleaseOrderStatus::ALL,
            ReleaseOrderStatus::as_str,
            ReleaseOrderStatus::parse,
        );
    }

    #[test]
    fn json_carries_the_same_text_as_the_column() {
        for status in LoanStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
        assert_eq!(
            serde_json::to_value(MovementKind::CountAdjustment).unwrap(),
            "count_adjustment"
        );
    }

    #[test]
    fn a_loan_paid_off_on_time_is_repaid_and_after_a_default_closed() {
        assert_eq!(LoanStatus::Active.when_paid_off(), LoanStatus::Repaid);
        assert_eq!(LoanStatus::Defaulted.when_paid_off(), LoanStatus::Closed);
        assert_eq!(LoanStatus::Liquidating.when_paid_off(), LoanStatus::Closed);
        assert!(LoanStatus::Liquidating.is_live());
        assert!(LoanStatus::Approved.is_pending());
        assert!(!LoanStatus::Repaid.is_live());
    }
}
