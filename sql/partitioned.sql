-- Partitioned tables on both sides of a foreign key.
\set SHOW_CONTEXT never
CREATE SCHEMA part;
SET search_path = part, public;

CREATE TABLE customer (id int PRIMARY KEY, region text NOT NULL);
CREATE TABLE orders (id int, customer_id int NOT NULL REFERENCES customer ON DELETE CASCADE,
                     created date NOT NULL, PRIMARY KEY (id, created)) PARTITION BY RANGE (created);
CREATE TABLE orders_2025 PARTITION OF orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE orders_2026 PARTITION OF orders FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE order_line (id int PRIMARY KEY, order_id int NOT NULL, order_created date NOT NULL,
                         FOREIGN KEY (order_id, order_created) REFERENCES orders ON DELETE CASCADE);
-- a partitioned table referenced by a partitioned table
CREATE TABLE shipment (id int, order_id int, order_created date, region text,
                       PRIMARY KEY (id, region),
                       FOREIGN KEY (order_id, order_created) REFERENCES orders ON DELETE SET NULL)
    PARTITION BY LIST (region);
CREATE TABLE shipment_eu PARTITION OF shipment FOR VALUES IN ('eu');
CREATE TABLE shipment_us PARTITION OF shipment FOR VALUES IN ('us');

INSERT INTO customer VALUES (1, 'eu'), (2, 'us');
INSERT INTO orders VALUES (1, 1, '2025-05-01'), (2, 1, '2026-02-01'), (3, 2, '2026-03-01');
INSERT INTO order_line VALUES (1, 1, '2025-05-01'), (2, 2, '2026-02-01'), (3, 3, '2026-03-01');
INSERT INTO shipment VALUES (1, 1, '2025-05-01', 'eu'), (2, 2, '2026-02-01', 'us'), (3, 3, '2026-03-01', 'us');

SELECT cascade_delete('customer', 1);
SELECT tableoid::regclass, * FROM orders ORDER BY id;
SELECT * FROM order_line ORDER BY id;
SELECT tableoid::regclass, * FROM shipment ORDER BY id;
-- deleting from the partitioned table by its composite key
SELECT cascade_delete('orders', ARRAY['3', '2026-03-01']);
SELECT count(*) AS orders, (SELECT count(*) FROM order_line) AS lines FROM orders;

SET client_min_messages = warning;
DROP SCHEMA part CASCADE;
