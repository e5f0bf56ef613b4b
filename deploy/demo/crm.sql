-- CRM side of the demo (PostgreSQL): accounts are shared with the ERP's customers both ways
-- (erp_id: the ERP's key, learned through the link), contacts flow to the ERP; ERP orders and
-- invoices land in erp_orders / erp_invoices.
CREATE TABLE IF NOT EXISTS accounts (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    country char(2),
    credit_limit numeric(12, 2),
    erp_id bigint UNIQUE,
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- two-way sync sees conflicts through before images
ALTER TABLE accounts REPLICA IDENTITY FULL;
CREATE TABLE IF NOT EXISTS contacts (
    id bigint PRIMARY KEY,
    account_id bigint REFERENCES accounts (id),
    first_name text,
    last_name text,
    email text,
    phone text,
    country text,
    state text,
    notes text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS erp_orders (
    id bigint PRIMARY KEY,
    customer_id bigint,
    total numeric(12, 2),
    status text,
    ordered_at timestamp
);
CREATE TABLE IF NOT EXISTS erp_invoices (
    id bigint PRIMARY KEY,
    order_id bigint,
    amount numeric(12, 2),
    paid boolean,
    issued_on date
);
INSERT INTO accounts (id, name, country) VALUES
    (1, 'Acme Corp', 'US'), (2, 'Globex GmbH', 'DE'), (3, 'Initech', 'US')
ON CONFLICT DO NOTHING;
SELECT setval('accounts_id_seq', greatest(100, (SELECT max(id) FROM accounts)));
-- Contacts as people type them: phones in national styles, emails in mixed case with spaces, a
-- name typed on a Mac (u + combining diaeresis), states as names and codes, one contact entered
-- twice, and one phone number that cannot be right. The agent publishes them cleaned
-- (config/crm-erp.yaml, transforms); the invalid phone's change waits in cdc._dlq.source.crm.
INSERT INTO contacts (id, account_id, first_name, last_name, email, phone, country, state, notes)
VALUES
    (10, 1, 'ada', 'Lovelace', ' Ada@ACME.example ', '(202) 456-1111', 'USA', 'California',
     'met at the trade show'),
    (11, 2, E'J\u0075\u0308rgen', E'Mu\u0308ller', 'JM@Globex.Example', '030 1234567', 'Germany',
     'Bavaria', NULL),
    (12, 3, 'Peter', 'Gibbons', 'peter@initech.example', NULL, 'US', 'TX', NULL),
    (14, 2, 'Jürgen', 'Müller', 'jm@globex.example ', '0049 30 1234567', 'DE', 'BY',
     'entered again by sales'),
    (15, 2, 'Heike', 'Schmidt', 'heike.schmidt@globex.example', '+49 (89) 1234567', 'de', 'DE-BY',
     NULL),
    (16, 1, 'Bob', 'Tables', 'bob@acme.example', '555-01', 'US', 'NY', NULL)
ON CONFLICT DO NOTHING;
