DROP TABLE custody_incidents;
