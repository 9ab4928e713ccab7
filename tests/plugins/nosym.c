/* A shared object that is not a plugin: it lacks attn_plugin_methods(). */
int attn_not_a_plugin(void);
int attn_not_a_plugin(void)
{
	return 42;
}
