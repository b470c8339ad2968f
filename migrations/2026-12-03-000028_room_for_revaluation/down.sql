ALTER TABLE pledges RESET (fillfactor);
ALTER TABLE loans RESET (fillfactor);
