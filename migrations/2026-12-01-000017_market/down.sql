DROP TABLE offers;
DROP TABLE listings;
DROP TABLE tier_privileges;
