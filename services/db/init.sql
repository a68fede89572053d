-- The trip services' schemas and accounts in db-mysql (MariaDB >= 10.5), run once by root.
-- The caller sets the five passwords as user variables first, in the same session, e.g. by
-- piping "SET @svc_user_password = '...';" lines and then this file into `mariadb` on stdin
-- (services/db/initdb.sh does that from password files): no password on a command line.
-- Each service creates its own tables (migrations at start); this file only makes room for them.
-- A NULL password makes the PREPARE below fail, so a forgotten variable stops the script.

CREATE DATABASE IF NOT EXISTS trip_user CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS trip_place CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS trip_review CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS trip_bookmark CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS trip_nearspot CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;


SET @sql = CONCAT('CREATE USER IF NOT EXISTS ''svc_user''@''%'' IDENTIFIED BY ', QUOTE(@svc_user_password),
                  ' WITH MAX_USER_CONNECTIONS 100');
PREPARE stmt FROM @sql; EXECUTE stmt; DEALLOCATE PREPARE stmt;
SET @sql = CONCAT('CREATE USER IF NOT EXISTS ''svc_place''@''%'' IDENTIFIED BY ', QUOTE(@svc_place_password),
                  ' WITH MAX_USER_CONNECTIONS 100');
PREPARE stmt FROM @sql; EXECUTE stmt; DEALLOCATE PREPARE stmt;
SET @sql = CONCAT('CREATE USER IF NOT EXISTS ''svc_review''@''%'' IDENTIFIED BY ', QUOTE(@svc_review_password),
                  ' WITH MAX_USER_CONNECTIONS 100');
PREPARE stmt FROM @sql; EXECUTE stmt; DEALLOCATE PREPARE stmt;
SET @sql = CONCAT('CREATE USER IF NOT EXISTS ''svc_bookmark''@''%'' IDENTIFIED BY ', QUOTE(@svc_bookmark_password),
                  ' WITH MAX_USER_CONNECTIONS 100');
PREPARE stmt FROM @sql; EXECUTE stmt; DEALLOCATE PREPARE stmt;
SET @sql = CONCAT('CREATE USER IF NOT EXISTS ''svc_nearspot''@''%'' IDENTIFIED BY ', QUOTE(@svc_nearspot_password),
                  ' WITH MAX_USER_CONNECTIONS 100');
PREPARE stmt FROM @sql; EXECUTE stmt; DEALLOCATE PREPARE stmt;

-- Each service owns its schema (tables, indexes, data) and nothing else.
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES ON trip_user.* TO 'svc_user'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES ON trip_place.* TO 'svc_place'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES ON trip_review.* TO 'svc_review'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES ON trip_bookmark.* TO 'svc_bookmark'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES ON trip_nearspot.* TO 'svc_nearspot'@'%';
-- nearspot reads place's table directly, read-only (docs/services.md, "nearspot reads places").
-- A schema-level grant because MariaDB refuses a table-level grant before place has created it.
GRANT SELECT ON trip_place.* TO 'svc_nearspot'@'%';
FLUSH PRIVILEGES;
