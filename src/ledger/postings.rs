//! The journal lines of each kind of money movement, built in one place: loans, sales and the
//! demo post these and nothing else, so every movement of a kind books the same accounts.
//! Each function returns balanced lines (they sum to zero); `ledger::post` checks it again.

use super::{AccountKind, Line};
use crate::domain::lending::Allocation;
use rust_decimal::Decimal;
use uuid::Uuid;

/// A loan paid out: the lender's cash becomes a receivable, the supplier's cash a payable.
pub fn disbursement(lender: Uuid, supplier: Uuid, principal: Decimal) -> Vec<Line> {
    vec![
        Line::debit(lender, AccountKind::LoansReceivable, principal),
        Line::credit(lender, AccountKind::Cash, principal),
        Line::debit(supplier, AccountKind::Cash, principal),
        Line::credit(supplier, AccountKind::LoansPayable, principal),
    ]
}

/// The supplier repays `allocation` to the lender in cash.
pub fn repayment(lender: Uuid, supplier: Uuid, allocation: &Allocation) -> Vec<Line> {
    let amount = allocation.total();
    let mut lines = vec![
        Line::credit(supplier, AccountKind::Cash, amount),
        Line::debit(lender, AccountKind::Cash, amount),
    ];
    lines.extend(debt_paid(lender, supplier, allocation));
    lines
}

/// What recognises a payment of `allocation` on a loan, whoever pays it: the supplier's fee
/// and interest expense and the lender's income, and the principal off the supplier's payable
/// and the lender's receivable. The cash lines belong to the movement that pays.
pub fn debt_paid(lender: Uuid, supplier: Uuid, allocation: &Allocation) -> [Line; 6] {
    [
        Line::debit(supplier, AccountKind::FeeExpense, allocation.fees),
        Line::credit(lender, AccountKind::FeeIncome, allocation.fees),
        Line::debit(supplier, AccountKind::InterestExpense, allocation.interest),
        Line::credit(lender, AccountKind::InterestIncome, allocation.interest),
        Line::debit(supplier, AccountKind::LoansPayable, allocation.principal),
        Line::credit(lender, AccountKind::LoansReceivable, allocation.principal),
    ]
}

/// A buyer pays towards a sale: the money waits in the platform's escrow.
pub fn sale_payment(buyer: Uuid, platform: Uuid, amount: Decimal) -> Vec<Line> {
    vec![
        Line::credit(buyer, AccountKind::Cash, amount),
        Line::debit(platform, AccountKind::Escrow, amount),
    ]
}

/// A buyer moves money into its market funds (a transfer the platform received).
pub fn funding(buyer: Uuid, amount: Decimal) -> Vec<Line> {
    vec![
        Line::debit(buyer, AccountKind::Funds, amount),
        Line::credit(buyer, AccountKind::Cash, amount),
    ]
}

/// A buyer takes free market funds back to its cash.
pub fn withdrawal(buyer: Uuid, amount: Decimal) -> Vec<Line> {
    vec![
        Line::credit(buyer, AccountKind::Funds, amount),
        Line::debit(buyer, AccountKind::Cash, amount),
    ]
}

/// A bidder's deposit: from its funds into the platform's held deposits.
pub fn deposit_taken(buyer: Uuid, platform: Uuid, amount: Decimal) -> Vec<Line> {
    vec![
        Line::credit(buyer, AccountKind::Funds, amount),
        Line::debit(platform, AccountKind::Deposits, amount),
    ]
}

/// A deposit returned to its bidder's funds.
pub fn deposit_returned(buyer: Uuid, platform: Uuid, amount: Decimal) -> Vec<Line> {
    vec![
        Line::debit(buyer, AccountKind::Funds, amount),
        Line::credit(platform, AccountKind::Deposits, amount),
    ]
}

/// The winner's deposit becomes the first payment of its sale: from held deposits to escrow.
pub fn deposit_applied(platform: Uuid, amount: Decimal) -> Vec<Line> {
    vec![
        Line::credit(platform, AccountKind::Deposits, amount),
        Line::debit(platform, AccountKind::Escrow, amount),
    ]
}

/// An unpaid sale's escrowed payment forfeited to the seller's side: each loan on the goods
/// first (its lender), the rest to the supplier. No fee: no goods left.
pub fn forfeit(
    platform: Uuid,
    supplier: Uuid,
    amount: Decimal,
    to_supplier: Decimal,
    loans: &[(Uuid, Allocation)],
) -> Vec<Line> {
    let mut lines = vec![
        Line::credit(platform, AccountKind::Escrow, amount),
        Line::debit(supplier, AccountKind::Cash, to_supplier),
    ];
    for (lender, allocation) in loans {
        lines.push(Line::debit(*lender, AccountKind::Cash, allocation.total()));
        lines.extend(debt_paid(*lender, supplier, allocation));
    }
    lines
}

/// The money of one settlement: the escrowed gross pays the platform's fee, each loan's
/// allocation (to its lender), and the rest to the supplier.
pub struct Settlement<'a> {
    pub platform: Uuid,
    pub supplier: Uuid,
    pub gross: Decimal,
    pub fee: Decimal,
    pub to_supplier: Decimal,
    /// (lender, what the sale pays that lender's loan).
    pub loans: &'a [(Uuid, Allocation)],
}

pub fn settlement(s: &Settlement<'_>) -> Vec<Line> {
    let mut lines = vec![
        Line::credit(s.platform, AccountKind::Escrow, s.gross),
        Line::debit(s.platform, AccountKind::Cash, s.fee),
        Line::credit(s.platform, AccountKind::FeeIncome, s.fee),
        Line::debit(s.supplier, AccountKind::FeeExpense, s.fee),
        Line::debit(s.supplier, AccountKind::Cash, s.to_supplier),
    ];
    for (lender, allocation) in s.loans {
        lines.push(Line::debit(*lender, AccountKind::Cash, allocation.total()));
        lines.extend(debt_paid(*lender, s.supplier, allocation));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sum(lines: &[Line]) -> Decimal {
        lines.iter().map(|l| l.amount).sum()
    }

    fn cents() -> impl Strategy<Value = Decimal> {
        (0i64..10_000_000).prop_map(|c| Decimal::new(c, 2))
    }

    fn allocation() -> impl Strategy<Value = Allocation> {
        (cents(), cents(), cents()).prop_map(|(fees, interest, principal)| Allocation {
            fees,
            interest,
            principal,
        })
    }

    #[test]
    fn a_disbursement_moves_the_principal_from_lender_to_supplier() {
        let (lender, supplier) = (Uuid::new_v4(), Uuid::new_v4());
        let lines = disbursement(lender, supplier, Decimal::new(100_000, 2));
        assert!(sum(&lines).is_zero());
        let supplier_cash: Decimal = lines
            .iter()
            .filter(|l| l.org_id == supplier && l.account == AccountKind::Cash)
            .map(|l| l.amount)
            .sum();
        assert_eq!(supplier_cash, Decimal::new(100_000, 2));
    }

    proptest! {
        #[test]
        fn every_posting_balances(a in allocation(), b in allocation(), gross in cents(), fee in cents(), amount in cents()) {
            let (platform, supplier, lender, other, buyer) =
                (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
            prop_assert!(sum(&disbursement(lender, supplier, amount)).is_zero());
            prop_assert!(sum(&repayment(lender, supplier, &a)).is_zero());
            prop_assert!(sum(&debt_paid(lender, supplier, &a)).is_zero());
            prop_assert!(sum(&sale_payment(buyer, platform, amount)).is_zero());
            prop_assert!(sum(&funding(buyer, amount)).is_zero());
            prop_assert!(sum(&withdrawal(buyer, amount)).is_zero());
            prop_assert!(sum(&deposit_taken(buyer, platform, amount)).is_zero());
            prop_assert!(sum(&deposit_returned(buyer, platform, amount)).is_zero());
            prop_assert!(sum(&deposit_applied(platform, amount)).is_zero());
            let forfeited = gross + a.total() + b.total();
            let lines = forfeit(platform, supplier, forfeited, gross, &[(lender, a), (other, b)]);
            prop_assert!(sum(&lines).is_zero());
            let loans = [(lender, a), (other, b)];
            let to_supplier = gross - fee - a.total() - b.total();
            let lines = settlement(&Settlement { platform, supplier, gross, fee, to_supplier, loans: &loans });
            prop_assert!(sum(&lines).is_zero());
        }
    }
}
