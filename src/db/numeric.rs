//! How `Money` and `Quantity` are stored: as the `numeric` columns they are read from, through
//! `Decimal`.

use crate::domain::money::Money;
use crate::domain::quantity::Quantity;
use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::sql_types::Numeric;
use rust_decimal::Decimal;

macro_rules! maps_to_numeric {
    ($name:ty) => {
        impl FromSql<Numeric, Pg> for $name {
            fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
                <Decimal as FromSql<Numeric, Pg>>::from_sql(value).map(<$name>::from)
            }
        }
    };
}

maps_to_numeric!(Money);
maps_to_numeric!(Quantity);
