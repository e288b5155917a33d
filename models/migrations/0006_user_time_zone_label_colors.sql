-- Each user reads dates in their own IANA time zone ('' = not chosen yet,
-- shown as UTC); Gmail's label colours are kept for the label chips.
ALTER TABLE users ADD COLUMN time_zone text NOT NULL DEFAULT '';
ALTER TABLE labels ADD COLUMN background_color text NOT NULL DEFAULT '';
ALTER TABLE labels ADD COLUMN text_color text NOT NULL DEFAULT '';
