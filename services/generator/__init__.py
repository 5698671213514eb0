"""Generator: reads one stream, cuts it into segments (tasks) as the plan says, submits them."""
