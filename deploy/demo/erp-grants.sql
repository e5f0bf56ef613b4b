-- The binlog source needs replication privileges on the ERP database server.
GRANT REPLICATION SLAVE, REPLICATION CLIENT, RELOAD ON *.* TO 'cdc'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER ON erp.* TO 'cdc'@'%';
