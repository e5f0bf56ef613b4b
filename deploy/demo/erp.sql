-- ERP side of the demo (MariaDB): customers are shared with the CRM's accounts both ways
-- (erp_id its own key, crm_account_id the CRM's, learned through the link); contacts receive the
-- CRM's contacts under ERP column names; orders and invoices flow to the CRM.
CREATE TABLE IF NOT EXISTS customers (
    erp_id BIGINT AUTO_INCREMENT PRIMARY KEY,
    crm_account_id BIGINT UNIQUE,
    company_name VARCHAR(200) NOT NULL,
    country_code CHAR(2),
    credit_limit DECIMAL(12, 2)
) AUTO_INCREMENT = 1000;
CREATE TABLE IF NOT EXISTS contacts (
    crm_contact_id BIGINT PRIMARY KEY,
    crm_account_id BIGINT,
    given_name VARCHAR(100),
    family_name VARCHAR(100),
    email VARCHAR(200),
    phone VARCHAR(40),
    country_code CHAR(2),
    state VARCHAR(10)
);
CREATE TABLE IF NOT EXISTS orders (
    id BIGINT PRIMARY KEY,
    customer_id BIGINT,
    total DECIMAL(12, 2),
    status ENUM('open', 'shipped', 'cancelled'),
    ordered_at DATETIME(3)
);
CREATE TABLE IF NOT EXISTS invoices (
    id BIGINT PRIMARY KEY,
    order_id BIGINT,
    amount DECIMAL(12, 2),
    paid BOOLEAN,
    issued_on DATE
);
INSERT IGNORE INTO orders VALUES
    (100, 1, 1250.00, 'open', '2026-11-20 09:30:00.250'),
    (101, 2, 89.90, 'shipped', '2026-11-21 14:00:00');
INSERT IGNORE INTO invoices VALUES (500, 101, 89.90, TRUE, '2026-11-22');
