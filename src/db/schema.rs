//! Diesel table definitions, written by hand to match `migrations/` (diesel_cli needs libpq).

diesel::table! {
    orgs (id) {
        id -> Uuid,
        name -> Text,
        kind -> Text,
        created_at -> Timestamptz,
        tier -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        org_id -> Uuid,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        permissions -> Array<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        token_generation -> Int4,
        disabled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Uuid,
        family_id -> Uuid,
        user_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        rotated_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Int8,
        throttle_key -> Text,
        failed_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (user_id, idempotency_key) {
        user_id -> Uuid,
        idempotency_key -> Text,
        request_hash -> Bytea,
        response_status -> Int2,
        response_body -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Int8,
        occurred_at -> Timestamptz,
        actor_user_id -> Nullable<Uuid>,
        actor_org_id -> Nullable<Uuid>,
        org_ids -> Array<Uuid>,
        action -> Text,
        object_kind -> Text,
        object_id -> Text,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
        request_id -> Nullable<Text>,
        seq -> Nullable<Int8>,
        prev_hash -> Nullable<Bytea>,
        hash -> Nullable<Bytea>,
        sealed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    audit_chain_head (singleton) {
        singleton -> Bool,
        seq -> Int8,
        hash -> Bytea,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> Int8,
        org_ids -> Array<Uuid>,
        event_type -> Text,
        payload -> Jsonb,
        created_at -> Timestamptz,
        seq -> Nullable<Int8>,
    }
}

diesel::joinable!(users -> orgs (org_id));
diesel::joinable!(refresh_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    orgs,
    users,
    refresh_tokens,
    login_failures,
    idempotency_keys,
    audit_events,
    audit_chain_head,
    outbox_events,
);

diesel::table! {
    commodities (code) {
        code -> Text,
        name -> Text,
        unit -> Text,
        shelf_life_days -> Int4,
        fresh_days -> Int4,
        end_freshness_factor -> Numeric,
        grades -> Jsonb,
        temperature_min_c -> Nullable<Numeric>,
        temperature_max_c -> Nullable<Numeric>,
        created_at -> Timestamptz,
        quality_version -> Nullable<Int4>,
        inspection_required -> Bool,
        reinspect_days -> Nullable<Int4>,
    }
}

diesel::table! {
    warehouses (id) {
        id -> Uuid,
        name -> Text,
        operator_org_id -> Uuid,
        address -> Text,
        kind -> Text,
        temperature_min_c -> Nullable<Numeric>,
        temperature_max_c -> Nullable<Numeric>,
        breach_grace_minutes -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    storage_rates (warehouse_id, commodity_code) {
        warehouse_id -> Uuid,
        commodity_code -> Text,
        rate_per_unit_day -> Numeric,
        currency -> Text,
    }
}

diesel::table! {
    voyages (id) {
        id -> Uuid,
        vessel_name -> Text,
        carrier_org_id -> Uuid,
        origin -> Text,
        destination -> Text,
        destination_warehouse_id -> Nullable<Uuid>,
        departs_at -> Timestamptz,
        eta -> Timestamptz,
        status -> Text,
        departed_at -> Nullable<Timestamptz>,
        arrived_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    lots (id) {
        id -> Uuid,
        seq -> Int8,
        code -> Text,
        owner_org_id -> Uuid,
        commodity_code -> Text,
        grade -> Text,
        unit -> Text,
        status -> Text,
        quantity_announced -> Numeric,
        quantity_on_hand -> Numeric,
        quantity_pledged -> Numeric,
        quantity_reserved -> Numeric,
        warehouse_id -> Nullable<Uuid>,
        voyage_id -> Nullable<Uuid>,
        packed_on -> Date,
        expires_on -> Date,
        parent_lot_id -> Nullable<Uuid>,
        market_value_at_deposit -> Nullable<Numeric>,
        deposit_currency -> Nullable<Text>,
        storage_rate_per_unit_day -> Nullable<Numeric>,
        storage_currency -> Nullable<Text>,
        insurer -> Nullable<Text>,
        received_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        quantity_sold -> Numeric,
        warehouse_since -> Nullable<Timestamptz>,
        declared_grade -> Text,
        last_inspection_id -> Nullable<Uuid>,
        last_inspected_at -> Nullable<Timestamptz>,
        inspection_due_on -> Nullable<Date>,
    }
}

diesel::table! {
    release_orders (id) {
        id -> Uuid,
        lot_id -> Uuid,
        kind -> Text,
        quantity -> Numeric,
        quantity_released -> Numeric,
        status -> Text,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
        sale_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    movements (id) {
        id -> Int8,
        lot_id -> Uuid,
        kind -> Text,
        quantity_change -> Numeric,
        quantity_after -> Numeric,
        status_after -> Text,
        warehouse_id -> Nullable<Uuid>,
        voyage_id -> Nullable<Uuid>,
        release_order_id -> Nullable<Uuid>,
        related_lot_id -> Nullable<Uuid>,
        reason -> Nullable<Text>,
        details -> Jsonb,
        actor_user_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    temperature_readings (warehouse_id, recorded_at, sensor_id) {
        warehouse_id -> Uuid,
        sensor_id -> Text,
        recorded_at -> Timestamptz,
        celsius -> Numeric,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    breaches (id) {
        id -> Uuid,
        seq -> Int8,
        warehouse_id -> Uuid,
        sensor_id -> Text,
        kind -> Text,
        started_at -> Timestamptz,
        ended_at -> Nullable<Timestamptz>,
        extreme_celsius -> Numeric,
        acknowledged_at -> Nullable<Timestamptz>,
        acknowledged_by -> Nullable<Uuid>,
        comment -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(warehouses -> orgs (operator_org_id));
diesel::joinable!(storage_rates -> warehouses (warehouse_id));
diesel::joinable!(lots -> commodities (commodity_code));
diesel::joinable!(release_orders -> lots (lot_id));
diesel::joinable!(movements -> lots (lot_id));
diesel::joinable!(breaches -> warehouses (warehouse_id));

diesel::allow_tables_to_appear_in_same_query!(
    commodities,
    warehouses,
    storage_rates,
    voyages,
    lots,
    release_orders,
    movements,
    temperature_readings,
    breaches,
    orgs,
);

diesel::table! {
    prices (id) {
        id -> Int8,
        commodity_code -> Text,
        price_per_unit -> Numeric,
        currency -> Text,
        as_of -> Timestamptz,
        source -> Text,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(prices -> commodities (commodity_code));

diesel::table! {
    daily_closes (business_date) {
        business_date -> Date,
        closed_at -> Timestamptz,
        loans_accrued -> Int4,
        margin_calls_opened -> Int4,
        loans_defaulted -> Int4,
    }
}

diesel::table! {
    facilities (id) {
        id -> Uuid,
        seq -> Int8,
        lender_org_id -> Uuid,
        supplier_org_id -> Uuid,
        currency -> Text,
        limit_amount -> Numeric,
        advance_rate -> Numeric,
        annual_interest_rate -> Numeric,
        margin_call_ltv -> Numeric,
        liquidation_ltv -> Numeric,
        cure_period_days -> Int4,
        max_tenor_days -> Int4,
        eligible_commodities -> Array<Text>,
        second_approver_required -> Bool,
        arrangement_fee_rate -> Numeric,
        status -> Text,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    loans (id) {
        id -> Uuid,
        seq -> Int8,
        facility_id -> Uuid,
        lender_org_id -> Uuid,
        supplier_org_id -> Uuid,
        currency -> Text,
        principal -> Numeric,
        outstanding_principal -> Numeric,
        accrued_interest -> Numeric,
        fees_due -> Numeric,
        interest_paid -> Numeric,
        fees_paid -> Numeric,
        annual_interest_rate -> Numeric,
        status -> Text,
        requested_by -> Nullable<Uuid>,
        requested_at -> Timestamptz,
        approved_by -> Nullable<Uuid>,
        approved_at -> Nullable<Timestamptz>,
        confirmed_by -> Nullable<Uuid>,
        confirmed_at -> Nullable<Timestamptz>,
        decided_reason -> Nullable<Text>,
        disbursed_by -> Nullable<Uuid>,
        disbursed_at -> Nullable<Timestamptz>,
        disbursed_on -> Nullable<Date>,
        maturity_date -> Nullable<Date>,
        accrued_through -> Nullable<Date>,
        repaid_at -> Nullable<Timestamptz>,
        defaulted_at -> Nullable<Timestamptz>,
        default_reason -> Nullable<Text>,
        collateral_value -> Numeric,
        ltv -> Nullable<Numeric>,
        revalued_at -> Nullable<Timestamptz>,
        repaid_on -> Nullable<Date>,
        defaulted_on -> Nullable<Date>,
    }
}

diesel::table! {
    pledges (loan_id, lot_id) {
        loan_id -> Uuid,
        lot_id -> Uuid,
        quantity -> Numeric,
        market_value -> Numeric,
        created_at -> Timestamptz,
        previous_market_value -> Numeric,
    }
}

diesel::table! {
    margin_calls (id) {
        id -> Uuid,
        seq -> Int8,
        loan_id -> Uuid,
        status -> Text,
        ltv_at_open -> Nullable<Numeric>,
        opened_on -> Date,
        deadline -> Date,
        opened_at -> Timestamptz,
        closed_at -> Nullable<Timestamptz>,
        closed_reason -> Nullable<Text>,
    }
}

diesel::table! {
    liquidations (id) {
        id -> Uuid,
        loan_id -> Uuid,
        ordered_by -> Nullable<Uuid>,
        ordered_at -> Timestamptz,
        lots -> Jsonb,
    }
}

diesel::table! {
    ledger_accounts (id) {
        id -> Int8,
        org_id -> Uuid,
        kind -> Text,
        currency -> Text,
    }
}

diesel::table! {
    journal_entries (id) {
        id -> Uuid,
        seq -> Int8,
        kind -> Text,
        loan_id -> Nullable<Uuid>,
        memo -> Text,
        business_date -> Date,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        sale_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    journal_lines (id) {
        id -> Int8,
        entry_id -> Uuid,
        account_id -> Int8,
        currency -> Text,
        amount -> Numeric,
    }
}

diesel::joinable!(loans -> facilities (facility_id));
diesel::joinable!(pledges -> loans (loan_id));
diesel::joinable!(pledges -> lots (lot_id));
diesel::joinable!(margin_calls -> loans (loan_id));
diesel::joinable!(journal_lines -> journal_entries (entry_id));
diesel::joinable!(journal_lines -> ledger_accounts (account_id));

diesel::allow_tables_to_appear_in_same_query!(facilities, loans, pledges, margin_calls, lots);

diesel::table! {
    loan_ltv_history (loan_id, business_date) {
        loan_id -> Uuid,
        business_date -> Date,
        outstanding -> Numeric,
        collateral_value -> Numeric,
        ltv -> Nullable<Numeric>,
    }
}
diesel::allow_tables_to_appear_in_same_query!(journal_entries, journal_lines, ledger_accounts);

diesel::table! {
    fee_schedules (id) {
        id -> Uuid,
        seq -> Int8,
        warehouse_id -> Nullable<Uuid>,
        commodity_code -> Nullable<Text>,
        currency -> Nullable<Text>,
        method -> Text,
        days -> Nullable<Int4>,
        percent -> Nullable<Numeric>,
        minimum_fee -> Numeric,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        superseded_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    tiers (tier) {
        tier -> Text,
        rank -> Int4,
        fee_factor -> Numeric,
    }
}

diesel::table! {
    tier_thresholds (tier, currency) {
        tier -> Text,
        currency -> Text,
        min_value_released -> Numeric,
        min_loans_repaid_on_time -> Int4,
        min_clean_count_share -> Numeric,
    }
}

diesel::table! {
    tier_history (id) {
        id -> Int8,
        org_id -> Uuid,
        tier -> Text,
        previous_tier -> Nullable<Text>,
        business_date -> Date,
        metrics -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    stock_counts (id) {
        id -> Int8,
        lot_id -> Uuid,
        owner_org_id -> Uuid,
        warehouse_id -> Uuid,
        quantity_book -> Numeric,
        quantity_counted -> Numeric,
        counted_by -> Nullable<Uuid>,
        business_date -> Date,
        counted_at -> Timestamptz,
    }
}

diesel::table! {
    sales (id) {
        id -> Uuid,
        seq -> Int8,
        kind -> Text,
        supplier_org_id -> Uuid,
        buyer_org_id -> Uuid,
        loan_id -> Nullable<Uuid>,
        currency -> Text,
        status -> Text,
        total -> Numeric,
        paid -> Numeric,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        cancelled_at -> Nullable<Timestamptz>,
        settled_at -> Nullable<Timestamptz>,
        forfeited_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sale_lines (sale_id, line_no) {
        sale_id -> Uuid,
        line_no -> Int4,
        lot_id -> Uuid,
        quantity -> Numeric,
        unit_price -> Numeric,
        amount -> Numeric,
    }
}

diesel::table! {
    sale_consents (sale_id, loan_id) {
        sale_id -> Uuid,
        loan_id -> Uuid,
        consented_by -> Uuid,
        consented_at -> Timestamptz,
    }
}

diesel::table! {
    sale_payments (id) {
        id -> Uuid,
        seq -> Int8,
        sale_id -> Uuid,
        amount -> Numeric,
        paid_by -> Nullable<Uuid>,
        paid_at -> Timestamptz,
        journal_entry_id -> Uuid,
    }
}

diesel::table! {
    settlements (sale_id) {
        sale_id -> Uuid,
        business_date -> Date,
        gross -> Numeric,
        fee -> Numeric,
        fee_detail -> Jsonb,
        loan_fees_repaid -> Numeric,
        interest_repaid -> Numeric,
        principal_repaid -> Numeric,
        to_supplier -> Numeric,
        journal_entry_id -> Uuid,
        settled_at -> Timestamptz,
    }
}

diesel::table! {
    settlement_loans (sale_id, loan_id) {
        sale_id -> Uuid,
        loan_id -> Uuid,
        quantity_released -> Numeric,
        fees -> Numeric,
        interest -> Numeric,
        principal -> Numeric,
    }
}

diesel::joinable!(sale_lines -> sales (sale_id));
diesel::joinable!(sale_lines -> lots (lot_id));
diesel::joinable!(sale_payments -> sales (sale_id));
diesel::joinable!(settlement_loans -> loans (loan_id));
diesel::joinable!(release_orders -> sales (sale_id));

diesel::allow_tables_to_appear_in_same_query!(
    sales,
    sale_lines,
    sale_payments,
    settlements,
    settlement_loans,
    sale_consents,
    fee_schedules,
    tiers,
    tier_thresholds,
    tier_history,
    stock_counts,
);
diesel::allow_tables_to_appear_in_same_query!(sale_lines, lots);
diesel::allow_tables_to_appear_in_same_query!(sales, lots);
diesel::allow_tables_to_appear_in_same_query!(sales, orgs);
diesel::allow_tables_to_appear_in_same_query!(sales, release_orders);
diesel::allow_tables_to_appear_in_same_query!(sales, loans);
diesel::allow_tables_to_appear_in_same_query!(settlement_loans, loans);
diesel::allow_tables_to_appear_in_same_query!(orgs, tiers);

diesel::table! {
    warehouse_inspectors (warehouse_id, inspector_org_id) {
        warehouse_id -> Uuid,
        inspector_org_id -> Uuid,
        assigned_by -> Uuid,
        assigned_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(lots, warehouse_inspectors);

diesel::table! {
    tier_privileges (tier) {
        tier -> Text,
        visibility_delay_minutes -> Int4,
        deposit_factor -> Numeric,
    }
}

diesel::table! {
    listings (id) {
        id -> Uuid,
        seq -> Int8,
        lot_id -> Uuid,
        seller_org_id -> Uuid,
        loan_id -> Nullable<Uuid>,
        mode -> Text,
        status -> Text,
        currency -> Text,
        quantity -> Numeric,
        quantity_committed -> Numeric,
        unit_price -> Nullable<Numeric>,
        seller_tier -> Text,
        opened_at -> Timestamptz,
        closed_at -> Nullable<Timestamptz>,
        created_by -> Uuid,
        reserve_price -> Nullable<Numeric>,
        min_increment -> Nullable<Numeric>,
        starts_at -> Nullable<Timestamptz>,
        ends_at -> Nullable<Timestamptz>,
        extension_minutes -> Nullable<Int4>,
        max_extensions -> Nullable<Int4>,
        extensions_used -> Int4,
        deposit_rate -> Nullable<Numeric>,
        payment_days -> Nullable<Int4>,
        relist_step -> Nullable<Numeric>,
        max_relists -> Nullable<Int4>,
        relist_count -> Int4,
        relisted_from -> Nullable<Uuid>,
        high_bid -> Nullable<Numeric>,
        high_bidder_org_id -> Nullable<Uuid>,
        bid_count -> Int4,
        sale_id -> Nullable<Uuid>,
        payment_due_at -> Nullable<Timestamptz>,
        outcome -> Nullable<Text>,
        min_total_quantity -> Nullable<Numeric>,
        deadline -> Nullable<Timestamptz>,
        margin_rate -> Nullable<Numeric>,
    }
}

diesel::table! {
    bids (id) {
        id -> Uuid,
        seq -> Int8,
        listing_id -> Uuid,
        buyer_org_id -> Uuid,
        unit_price -> Numeric,
        placed_at -> Timestamptz,
        deposit -> Numeric,
        created_by -> Uuid,
    }
}

diesel::table! {
    market_deposits (id) {
        id -> Uuid,
        seq -> Int8,
        listing_id -> Uuid,
        buyer_org_id -> Uuid,
        kind -> Text,
        currency -> Text,
        amount -> Numeric,
        status -> Text,
        sale_id -> Nullable<Uuid>,
        taken_entry_id -> Uuid,
        ended_entry_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        ended_at -> Nullable<Timestamptz>,
        quantity -> Nullable<Numeric>,
        due_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    offers (id) {
        id -> Uuid,
        seq -> Int8,
        listing_id -> Uuid,
        buyer_org_id -> Uuid,
        quantity -> Numeric,
        unit_price -> Numeric,
        status -> Text,
        reason -> Nullable<Text>,
        expires_at -> Timestamptz,
        sale_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        created_by -> Uuid,
        decided_at -> Nullable<Timestamptz>,
        decided_by -> Nullable<Uuid>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(listings, offers, bids, market_deposits);

diesel::table! {
    buyer_tier_thresholds (tier, currency) {
        tier -> Text,
        currency -> Text,
        min_value_purchased -> Numeric,
        min_purchases_completed -> Int4,
        min_on_time_share -> Numeric,
    }
}
