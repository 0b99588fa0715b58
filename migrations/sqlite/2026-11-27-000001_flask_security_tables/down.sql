-- Refuses to drop data it may not have created (an adopted Flask database): drop by hand.
SELECT 1;
