-- The schema the psql describe tests create on Shoal and on PostgreSQL 15.
CREATE SCHEMA app;
CREATE TABLE app.customers (
    id serial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name varchar(100) DEFAULT 'anon',
    created date DEFAULT '2020-01-01'
);
CREATE TABLE orders (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES app.customers (id),
    amount numeric(10, 2) NOT NULL CHECK (amount > 0),
    status text DEFAULT 'new',
    note text
);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE UNIQUE INDEX orders_note_uq ON orders (note, status);
CREATE TABLE items (
    order_id integer REFERENCES orders (id) ON DELETE CASCADE,
    sku text,
    qty integer DEFAULT 1 CHECK (qty >= 0),
    PRIMARY KEY (order_id, sku)
);
CREATE VIEW big_orders AS SELECT id, amount FROM orders WHERE amount > 100;
CREATE SEQUENCE ticket_seq START 100;
CREATE ROLE reporter;
INSERT INTO app.customers (email, name) VALUES ('a@example.com', 'Ann'), ('b@example.com', DEFAULT);
INSERT INTO orders (customer_id, amount, note) VALUES (1, 150.00, 'first'), (2, 20.50, NULL);
