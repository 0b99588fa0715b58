-- Nothing: the columns are Flask-Security's and may hold a Flask app's data.
SELECT 1;
