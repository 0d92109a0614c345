-- Run by the postgres image when it creates its data directory (docker-compose.yml mounts this
-- folder at /docker-entrypoint-initdb.d), in the database the collector connects to, postgres.
-- User tables for the business example and the custom queries of queries/example.yml: without
-- any, "User tables by schema" and the app_schema_* series have nothing to show.
CREATE SCHEMA shop;
CREATE TABLE shop.orders (id serial PRIMARY KEY, total numeric NOT NULL);
CREATE TABLE shop.customers (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO shop.orders (total) SELECT round((random() * 100)::numeric, 2) FROM generate_series(1, 100);
INSERT INTO shop.customers (name) SELECT 'customer ' || n FROM generate_series(1, 20) AS n;
CREATE TABLE public.events (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
INSERT INTO public.events DEFAULT VALUES;
-- Vacuumed once, so the dashboard's "Vacuum age" has a time to show: autovacuum leaves tables
-- this small alone. psql runs each statement on its own, so VACUUM is outside a transaction.
VACUUM ANALYZE shop.orders, shop.customers, public.events;
