//! The decimal inputs of requests, one type per [`Shape`]: each reads strictly from a JSON
//! string and describes itself in the OpenAPI document with the same rule as a pattern. What
//! depends on another field (a currency's minor unit, a lot's unit, one rate above another) is
//! checked by the service, 422 naming the field.

use super::decimal::{Shape, decimal_input};

decimal_input!(
    /// An amount of money above zero, below 10^15, at most two decimals (the service also
    /// holds it to its currency's minor unit).
    Amount,
    Shape::Positive { int: 15, places: 2 },
    "1250.00"
);

decimal_input!(
    /// An amount of money from zero, such as a minimum fee.
    AmountOrZero,
    Shape::NonNegative { int: 15, places: 2 },
    "0.00"
);

decimal_input!(
    /// A price per unit of goods: above zero, below 10^8, at most six decimals.
    UnitPrice,
    Shape::Positive { int: 8, places: 6 },
    "6.50"
);

decimal_input!(
    /// A quantity of goods in the lot's unit: above zero, below 10^9, at most three decimals
    /// (none for pieces).
    QuantityInput,
    Shape::Positive { int: 9, places: 3 },
    "20000.000"
);

decimal_input!(
    /// A fraction above 0 and at most 1, at most six decimals (an advance rate, an LTV).
    Fraction,
    Shape::Fraction { places: 6 },
    "0.65"
);

decimal_input!(
    /// A fraction from 0 to 1, at most six decimals (an interest rate, a factor).
    UnitInterval,
    Shape::UnitInterval { places: 6 },
    "0.08"
);

decimal_input!(
    /// A ratio above 0 and below 10, at most six decimals (a liquidation LTV may pass 1).
    Ratio,
    Shape::Positive { int: 1, places: 6 },
    "0.80"
);

decimal_input!(
    /// A temperature in °C, between −100 and 100, at most two decimals.
    Celsius,
    Shape::Signed { int: 2, places: 2 },
    "3.50"
);

decimal_input!(
    /// A relative price change from −1 (everything lost) to below 10, at most four decimals.
    PriceChange,
    Shape::Change { places: 4 },
    "-0.20"
);

decimal_input!(
    /// A measured value of a quality parameter (firmness in kgf, sugar in °Brix, a size in
    /// mm): between −10^6 and 10^6, at most four decimals.
    Measurement,
    Shape::Signed { int: 6, places: 4 },
    "7.5"
);
