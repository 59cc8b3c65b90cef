-- Row Level Security hardened beyond the original, whose owner-UPDATE policy let a
-- citizen set status='completed' and forge results; and the table's place in
-- Supabase Realtime.
--
-- Supabase grants everything in `public` to anon and authenticated by default, so
-- this migration revokes first and grants back only what a citizen needs.

alter table public.investigations enable row level security;

drop policy if exists "Users can view their own investigations" on public.investigations;
drop policy if exists "Users can create their own investigations" on public.investigations;
drop policy if exists "Users can update their own investigations" on public.investigations;
drop policy if exists "Users can delete their own investigations" on public.investigations;
drop policy if exists "Service role can manage all investigations" on public.investigations;

revoke all on public.investigations from public, anon, authenticated;
grant all on public.investigations to service_role;

-- A citizen reads their own rows (RETURNING * on insert needs every column).
grant select on public.investigations to authenticated;
-- ... inserts only the columns they choose; user_id and status are accepted because
-- supabase-js code often sends them, and the policy pins their values.
grant insert (query, data_source, filters, anomaly_types, session_id, user_id, status)
    on public.investigations to authenticated;
-- ... may change one column, and the policy allows one value.
grant update (status) on public.investigations to authenticated;
grant delete on public.investigations to authenticated;

create policy "Citizens read their own investigations"
    on public.investigations for select to authenticated
    using (user_id = auth.uid());

create policy "Citizens create pending investigations for themselves"
    on public.investigations for insert to authenticated
    with check (user_id = auth.uid() and status = 'pending');

create policy "Citizens cancel their own active investigations"
    on public.investigations for update to authenticated
    using (user_id = auth.uid() and status in ('pending', 'processing'))
    with check (user_id = auth.uid() and status = 'cancelled');

create policy "Citizens delete their own investigations unless processing"
    on public.investigations for delete to authenticated
    using (user_id = auth.uid() and status <> 'processing');

create policy "Service role can manage all investigations"
    on public.investigations for all to service_role
    using (true) with check (true);

revoke all on public.investigation_summaries from public, anon, authenticated;
grant select on public.investigation_summaries to authenticated, service_role;

revoke all on function public.get_investigation_stats(uuid) from public, anon;
grant execute on function public.get_investigation_stats(uuid) to authenticated, service_role;
revoke all on function public.update_updated_at_column() from public, anon, authenticated;

-- Citizens' inserts evaluate the max_attempts default and the cap trigger, which
-- call into schema fiscal; its tables stay closed to them.
grant usage on schema fiscal to anon, authenticated, service_role;
revoke all on function fiscal.setting_int(text, integer) from public;
grant execute on function fiscal.setting_int(text, integer) to authenticated, service_role;

-- Every UPDATE event carries the whole row, so large TOASTed `results` do not
-- vanish from progress events.
alter table public.investigations replica identity full;

do $$
begin
    if exists (select 1 from pg_publication where pubname = 'supabase_realtime' and not puballtables)
       and not exists (
           select 1 from pg_publication_tables
           where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = 'investigations')
    then
        alter publication supabase_realtime add table public.investigations;
    end if;
end
$$;
